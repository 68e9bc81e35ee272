"""The OpenID Connect clients (Authlib) for the configured provider: the web login and the CLI's device flow.

Nothing of the protocol is written here: Authlib makes the authorization URL (PKCE S256, state, nonce), checks
the state on return, exchanges the code, and checks the ID token (signature against the provider's JWKS, fetched
again when an unknown key id appears; issuer, audience, expiry with `FLOWYARD_OIDC_CLOCK_SKEW_SECONDS` of
leeway; nonce). Clients are built once per configuration; the provider's metadata is read on first use.
"""

from __future__ import annotations

import functools
import logging
from types import SimpleNamespace
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from joserfc.errors import JoseError
from requests import RequestException

from controlplane.config import FlowyardConfig
from controlplane.sso.errors import ProviderUnavailable, SignInRefused, SsoNotConfigured

log = logging.getLogger(__name__)
HTTP_TIMEOUT_SECONDS = 10
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def config() -> FlowyardConfig:
    """The installation's configuration (read per call: tests replace it)."""
    return settings.FLOWYARD


def require_sso() -> FlowyardConfig:
    """The configuration, or SsoNotConfigured when no provider is set up."""
    current = config()
    if not current.sso_enabled:
        raise SsoNotConfigured("Single sign-on is not configured on this installation (FLOWYARD_OIDC_ISSUER is empty).")
    return current


CLIENT_SETTINGS = ("oidc_metadata_url", "oidc_client_id", "oidc_client_secret", "oidc_scopes", "oidc_cli_client_id",
                   "oidc_cli_client_secret")


def _clients(current: FlowyardConfig) -> OAuth:
    return _clients_for(tuple(getattr(current, name) for name in CLIENT_SETTINGS))


@functools.lru_cache(maxsize=4)
def _clients_for(key: tuple[str, ...]) -> OAuth:
    """One Authlib registry per provider configuration: its clients keep the provider's metadata and JWKS."""
    current = SimpleNamespace(**dict(zip(CLIENT_SETTINGS, key)))
    registry = OAuth()
    common = {"server_metadata_url": current.oidc_metadata_url, "client_kwargs": {
        "scope": current.oidc_scopes, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT_SECONDS}}
    registry.register("web", client_id=current.oidc_client_id, client_secret=current.oidc_client_secret or None,
                      **common)
    if current.oidc_cli_client_id:
        secret = current.oidc_cli_client_secret or None
        cli_kwargs = {**common["client_kwargs"], "token_endpoint_auth_method": "client_secret_post" if secret else "none"}
        registry.register("cli", client_id=current.oidc_cli_client_id, client_secret=secret,
                          server_metadata_url=current.oidc_metadata_url, client_kwargs=cli_kwargs)
    return registry


def web_client() -> DjangoOAuth2App:
    """The confidential client of the browser login."""
    return _clients(require_sso()).create_client("web")


def cli_client() -> DjangoOAuth2App:
    """The public client of `flowyard login` (device authorization grant); SsoNotConfigured when there is none."""
    current = require_sso()
    if not current.oidc_cli_client_id:
        raise SsoNotConfigured("CLI login is not configured on this installation (FLOWYARD_OIDC_CLI_CLIENT_ID is empty); "
                               "create a personal token in the portal or the API instead.")
    return _clients(current).create_client("cli")


def metadata(client: DjangoOAuth2App) -> dict[str, Any]:
    """The provider's metadata (discovery document); ProviderUnavailable when it cannot be read."""
    try:
        return client.load_server_metadata()
    except (RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"The sign-in provider's metadata could not be read ({type(exc).__name__}); "
                                  "try again, or ask your platform admin to check FLOWYARD_OIDC_ISSUER.") from None


def session_for(client: DjangoOAuth2App) -> OAuth2Session:
    """A requests session of `client` at the provider, for requests Authlib's app has no method for (RFC 8628's
    device authorization request)."""
    return OAuth2Session(client.client_id, client.client_secret, **client.client_kwargs)


def checked_claims(client: DjangoOAuth2App, token: dict[str, Any], nonce: str | None = None) -> dict[str, Any]:
    """The ID token of a token answer, checked (signature, issuer, audience, expiry, nonce when given)."""
    try:
        return dict(client.parse_id_token(token, nonce=nonce, leeway=config().oidc_clock_skew_seconds) or {})
    except JoseError as exc:
        raise SignInRefused(f"The provider's ID token was refused: {describe_jose_error(exc)}.",
                            code="id_token_refused", extra={"reason": type(exc).__name__}) from None


def describe_jose_error(exc: JoseError) -> str:
    """A short sentence for a rejected ID token (never the token itself)."""
    return f"{type(exc).__name__}: {getattr(exc, 'description', '') or exc.error}"[:300]


def describe_oauth_error(exc: OAuthError) -> str:
    """A short sentence for an OAuth error answer (never a code or a token)."""
    return f"{exc.error}: {exc.description}"[:300] if exc.description else str(exc.error)[:300]
