"""The SSO tests' world: the control plane pointed at the test provider, teams whose groups are mapped, and a
browser-less sign-in (requests) through the live server and the provider's pages.

`sso_world` (function-scoped, needs `oidc_provider` and `live_server`): teams analytics and ml built with
`build_tenant` (projects analytics-main and ml-main, a test deployment and a pending promotion each), the groups
analytics-developers → analytics developer, analytics-approvers → analytics approver and ml-admins → ml admin, and
the control plane's FLOWYARD_OIDC_* settings pointing at the provider (the web and CLI clients of flowyard_testkit.oidc).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from flowyard_testkit.oidc import CLI_CLIENT_ID, WEB_CLIENT_ID, WEB_CLIENT_SECRET, OidcProvider
from flowyard_testkit.tenants import Tenant, build_tenant
from flowyard_spec.states import Role

PASSWORD = "correct horse battery staple"
SCOPES = "openid profile email groups offline_access"
HTTP_TIMEOUT_SECONDS = 30


@dataclass
class SsoWorld:
    """Two teams, the provider, and the live control plane's address."""

    url: str
    provider: OidcProvider
    analytics: Tenant
    ml: Tenant

    def person(self, login: str, *groups: str, gitlab_username: str = "") -> str:
        """Create or change `login` at the provider (password PASSWORD, in `groups`); returns the login."""
        self.provider.set_user(login, password=PASSWORD, email=f"{login}@example.invalid", name=f"{login.title()} Tester",
                               groups=groups, gitlab_username=gitlab_username)
        return login

    def sign_in(self, login: str, session: requests.Session | None = None, *,
                tamper_callback: Any = None) -> requests.Response:
        """Sign `login` in as a browser would, without one: the control plane's start, the provider's pages, and the
        callback (its URL passed through `tamper_callback` first when given). Returns the callback's answer."""
        session = session or requests.Session()
        start = session.get(f"{self.url}/auth/oidc/start/", allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)
        assert start.status_code == 302, start.text
        callback = self.provider.authorize(start.headers["Location"], login, PASSWORD, session=session)
        if tamper_callback is not None:
            callback = tamper_callback(callback)
        return session.get(callback, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)


def sso_settings(settings: Any, provider: OidcProvider, **overrides: Any) -> None:
    """Point the control plane (in this process, and so the live server) at `provider`."""
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={
        "oidc_issuer": provider.issuer, "oidc_client_id": WEB_CLIENT_ID, "oidc_client_secret": WEB_CLIENT_SECRET,
        "oidc_cli_client_id": CLI_CLIENT_ID, "oidc_scopes": SCOPES, "oidc_forge_claim": "gitlab_username",
        "oidc_forge": "gitlab", **overrides,
    })


def query_with(url: str, **changes: str) -> str:
    """`url` with some query parameters replaced."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query)) | changes
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@pytest.fixture
def sso_world(oidc_provider, live_server, settings) -> SsoWorld:
    """Teams analytics and ml with their groups mapped, and SSO configured against the test provider."""
    from controlplane.tenancy.group_mappings import group_mapping_create

    analytics, ml = build_tenant("analytics"), build_tenant("ml")
    # build_tenant maps "<team>-developers" to the team's developer role already.
    group_mapping_create(actor=None, group="analytics-approvers", team=analytics.team, role=Role.APPROVER)
    group_mapping_create(actor=None, group="ml-admins", team=ml.team, role=Role.ADMIN)
    sso_settings(settings, oidc_provider)
    return SsoWorld(url=live_server.url, provider=oidc_provider, analytics=analytics, ml=ml)
