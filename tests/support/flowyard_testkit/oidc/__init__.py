"""A real OpenID Connect provider for the SSO tests, a proxy that tampers with its ID tokens, and their fixtures.

`OidcProvider(clients)` runs tests/support/oidc/provider.mjs (node's oidc-provider, installed by scripts/provision)
on a free 127.0.0.1 port: `with OidcProvider([web_client(...)]) as provider:`. Accounts live in a users file that
the provider re-reads on every lookup, so `set_user` changes someone's groups or disables them at once. PKCE (S256) is
required, consent is implicit (a pre-consented first-party app), every client allowed the refresh_token grant gets a
refresh token, `authorize` and `device_approve` drive the sign-in pages with `requests`, and `rotate_keys` puts a new
signing key first (the old one stays published second) without a restart, so sessions and refresh tokens survive.

`TamperingProxy(provider)` sits in front of it: its discovery document sends the token endpoint through the proxy,
and after `tamper(claims=..., key=..., header=...)` the ID token in a token answer is rewritten and re-signed.

Fixtures (import the ones a module uses: `from flowyard_testkit.oidc import oidc_provider, tampering_proxy`):
`oidc_provider` (session; registers WEB_CLIENT_ID and CLI_CLIENT_ID against pytest-django's live server) and
`tampering_proxy` (the provider's one proxy, not tampering when a test starts and reset after it).

Modules (every public name is re-exported here; import from `flowyard_testkit.oidc`):
`provider` (OidcProvider, new_signing_key, public_jwk, web_client, device_client, the client IDs and paths),
`proxy` (TamperingProxy, Tampering and the proxy's request handler), `pages` (Form, parse_forms, page_text: the
sign-in pages' HTML) and `constants` (the discovery path and time bounds they share). Imports go one way:
constants <- pages, proxy <- provider <- this package's fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowyard_testkit.oidc.constants import DISCOVERY_PATH, HTTP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS
from flowyard_testkit.oidc.pages import Form, page_text, parse_forms
from flowyard_testkit.oidc.provider import (CALLBACK_PATH, CLI_CLIENT_ID, CONTROL_PATH, DEVICE_CODE_GRANT,
                                            LOGGED_OUT_PATH, MAX_REDIRECTS, NODE_MODULES, PROVIDER_SCRIPT,
                                            START_TIMEOUT_SECONDS, WEB_CLIENT_ID, WEB_CLIENT_SECRET, OidcProvider,
                                            device_client, new_signing_key, public_jwk, web_client)
from flowyard_testkit.oidc.proxy import HOP_BY_HOP, Tampering, TamperingProxy

__all__ = [
    "CALLBACK_PATH", "CLI_CLIENT_ID", "CONTROL_PATH", "DEVICE_CODE_GRANT", "DISCOVERY_PATH", "HOP_BY_HOP",
    "HTTP_TIMEOUT_SECONDS", "LOGGED_OUT_PATH", "MAX_REDIRECTS", "NODE_MODULES", "PROVIDER_SCRIPT",
    "START_TIMEOUT_SECONDS", "STOP_TIMEOUT_SECONDS", "WEB_CLIENT_ID", "WEB_CLIENT_SECRET",
    "Form", "OidcProvider", "Tampering", "TamperingProxy",
    "device_client", "new_signing_key", "oidc_provider", "page_text", "parse_forms", "public_jwk",
    "tampering_proxy", "web_client",
]


@pytest.fixture(scope="session")
def oidc_provider(live_server) -> Iterator[OidcProvider]:
    """A started provider for the session with the web client (WEB_CLIENT_ID, secret WEB_CLIENT_SECRET; callback and
    logged-out pages on the live server) and the CLI's device client (CLI_CLIENT_ID, public). Users: `set_user`."""
    provider = OidcProvider([
        web_client(WEB_CLIENT_ID, secret=WEB_CLIENT_SECRET, redirect_uris=[f"{live_server.url}{CALLBACK_PATH}"],
                   post_logout_redirect_uris=[f"{live_server.url}{LOGGED_OUT_PATH}"]),
        device_client(CLI_CLIENT_ID),
    ])
    with provider:
        yield provider


@pytest.fixture
def tampering_proxy(oidc_provider: OidcProvider) -> Iterator[TamperingProxy]:
    """The TamperingProxy in front of `oidc_provider` (one for the session, so its address is stable), not tampering
    at the start of a test and reset after it."""
    proxy = oidc_provider.tampering_proxy()
    proxy.reset()
    yield proxy
    proxy.reset()
