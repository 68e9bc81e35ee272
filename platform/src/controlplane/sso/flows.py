"""The two ways a person signs in: the browser's authorization code flow and the CLI's device authorization grant.

Each turns the provider's answer into a checked `Identity` (Authlib checks state, code, PKCE, the ID token's
signature and claims; a missing groups claim is read from the userinfo endpoint) and hands it to
`services.sign_in`. Every refusal is raised as an SsoError and audited by the caller with
`services.sign_in_refused_record`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from joserfc.errors import JoseError
from requests import RequestException

from controlplane.sso import provider
from controlplane.sso.errors import (
    CallbackInvalid,
    DeviceFlowWaiting,
    NoAccess,
    ProviderUnavailable,
    SignInRefused,
)
from controlplane.sso.identity import Identity, has_groups_claim
from controlplane.sso.services import SignInOutcome, sign_in
from controlplane.tenancy.models import PersonalToken
from controlplane.tenancy.services import personal_token_create

PROVIDER_DOWN = "The sign-in provider did not answer; try again in a minute."


def identity_of(client: Any, token: dict[str, Any], claims: dict[str, Any]) -> Identity:
    """The identity in checked ID token claims, with the groups from userinfo when the ID token has none."""
    current = provider.config()
    if not has_groups_claim(claims, current.oidc_groups_claim) and token.get("access_token"):
        try:
            info = dict(client.userinfo(token=token))
        except (OAuthError, RequestException, ValueError):
            info = {}
        if info.get("sub") == claims.get("sub"):
            claims = {**info, **claims, current.oidc_groups_claim: info.get(current.oidc_groups_claim, [])}
    return Identity.from_claims(claims, current, issuer=str(provider.metadata(client).get("issuer") or current.oidc_issuer))


def browser_sign_in(request: HttpRequest) -> tuple[SignInOutcome, dict[str, Any]]:
    """Finish the browser's login at the callback: (the sign-in's outcome, the provider's token answer)."""
    client = provider.web_client()
    provider.metadata(client)
    try:
        token = client.authorize_access_token(request, leeway=provider.config().oidc_clock_skew_seconds)
    except MismatchingStateError:
        raise CallbackInvalid("This sign-in link is not the one this browser started (its state does not match); "
                              "start again from the sign-in page.", code="state_mismatch") from None
    except OAuthError as exc:
        if exc.error in {"invalid_grant", "invalid_request"}:
            raise CallbackInvalid("The provider refused the sign-in code (it was used already, expired, or was not "
                                  f"issued to this browser): {provider.describe_oauth_error(exc)}. Start again.",
                                  code="code_refused") from None
        raise SignInRefused(f"The provider refused the sign-in: {provider.describe_oauth_error(exc)}.",
                            code="provider_refused") from None
    except JoseError as exc:
        raise SignInRefused(f"The provider's ID token was refused: {provider.describe_jose_error(exc)}.",
                            code="id_token_refused") from None
    except RequestException:
        raise ProviderUnavailable(PROVIDER_DOWN) from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused("The provider sent no ID token; FLOWYARD_OIDC_SCOPES must include openid.",
                            code="id_token_refused")
    identity = identity_of(client, token, dict(claims))
    return sign_in(identity=identity, refresh_token=token.get("refresh_token") or "", via="browser"), token


# -- the CLI: RFC 8628 device authorization grant, through the control plane ------------------------------
@dataclass(frozen=True)
class CliLogin:
    """What `flowyard login` receives: the new personal token and its value (shown once)."""

    token: PersonalToken
    value: str
    username: str


def device_authorization_start() -> dict[str, Any]:
    """Ask the provider for a device code and a user code for `flowyard login` (RFC 8628 §3.1)."""
    client = provider.cli_client()
    endpoint = provider.metadata(client).get("device_authorization_endpoint")
    if not endpoint:
        raise ProviderUnavailable("The sign-in provider does not offer the device authorization grant "
                                  "(no device_authorization_endpoint in its metadata); sign in in the browser and create "
                                  "a personal token instead.", code="device_flow_unsupported")
    try:
        with provider.session_for(client) as session:
            answer = session.post(endpoint, data={"client_id": client.client_id, "scope": provider.config().oidc_scopes},
                                  withhold_token=True, timeout=provider.HTTP_TIMEOUT_SECONDS)
        body = answer.json()
    except (RequestException, ValueError):
        raise ProviderUnavailable(PROVIDER_DOWN) from None
    if answer.status_code != 200 or "device_code" not in body:
        raise ProviderUnavailable(f"The sign-in provider refused to start a device login: "
                                  f"{body.get('error', answer.status_code)} {body.get('error_description', '')}".strip())
    if "verification_uri" not in body and "verification_url" in body:  # Google's name for it
        body["verification_uri"] = body["verification_url"]
    keys = ("device_code", "user_code", "verification_uri", "verification_uri_complete", "interval", "expires_in")
    return {key: body[key] for key in keys if key in body} | {"interval": int(body.get("interval") or 5)}


def device_token_exchange(*, device_code: str, token_name: str) -> CliLogin:
    """Poll once for the device code's tokens; when the person signed in, sign them in and mint a personal token."""
    client = provider.cli_client()
    provider.metadata(client)
    try:
        token = client.fetch_access_token(grant_type=provider.DEVICE_GRANT, device_code=device_code, scope=None)
    except OAuthError as exc:
        if exc.error in {"authorization_pending", "slow_down"}:
            raise DeviceFlowWaiting("Waiting for you to finish signing in at the provider.", code=exc.error) from None
        if exc.error in {"access_denied", "authorization_declined"}:  # the latter: Microsoft Entra ID
            raise SignInRefused("The sign-in was refused at the provider.", code="access_denied") from None
        if exc.error == "expired_token":
            raise CallbackInvalid("The login code expired; run `flowyard login` again.", code="expired_token") from None
        raise CallbackInvalid(f"The provider refused the device code: {provider.describe_oauth_error(exc)}.",
                              code="code_refused") from None
    except RequestException:
        raise ProviderUnavailable(PROVIDER_DOWN) from None
    claims = provider.checked_claims(client, token)
    if not claims:
        raise SignInRefused("The provider sent no ID token for the CLI login; FLOWYARD_OIDC_SCOPES must include "
                            "openid.", code="id_token_refused")
    identity = identity_of(client, token, claims)
    outcome = sign_in(identity=identity, refresh_token=token.get("refresh_token") or "", via="cli")
    if not outcome.allowed:
        raise NoAccess(outcome.message, extra={"groups": list(identity.groups)})
    return _mint(outcome.user, token_name)


@transaction.atomic
def _mint(user: Any, token_name: str) -> CliLogin:
    days = provider.config().cli_token_days
    token, value = personal_token_create(actor=user, name=token_name,
                                         expires_at=timezone.now() + datetime.timedelta(days=days))
    return CliLogin(token=token, value=value, username=user.get_username())
