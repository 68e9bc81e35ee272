"""The periodic re-check, against the real provider: with the refresh token kept from a person's sign-in, Flowyard
asks the provider again; new groups are synced, and a person disabled at the provider loses access (their personal
tokens answer 401) without having to sign in again."""

from __future__ import annotations

import requests

from controlplane.core.models import AuditEvent
from controlplane.sso.models import AccountStatus, SsoAccount
from controlplane.sso.tasks import recheck_account
from controlplane.tenancy.models import TeamMembership
from controlplane.tenancy.services import personal_token_create
from flowyard_testkit.oidc import oidc_provider  # noqa: F401
from flowyard_testkit.sso import PASSWORD, SsoWorld, sso_world  # noqa: F401


def signed_in_with_a_token(world: SsoWorld, login: str, *groups: str) -> tuple[SsoAccount, str]:
    """Sign `login` in (a refresh token is kept) and give them a personal token."""
    world.person(login, *groups)
    assert world.sign_in(login).status_code == 302
    account = SsoAccount.objects.select_related("user").get(user__username=login)
    assert account.encrypted_refresh_token, "the provider gave a refresh token and Flowyard kept it"
    _, token = personal_token_create(actor=account.user, name="laptop")
    return account, token


def me(world: SsoWorld, token: str) -> int:
    return requests.get(f"{world.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def test_a_recheck_syncs_groups_changed_at_the_provider(sso_world: SsoWorld):
    account, token = signed_in_with_a_token(sso_world, "dave", "analytics-developers")
    sso_world.person("dave", "analytics-developers", "ml-admins")
    outcome = recheck_account(str(account.pk))
    account.refresh_from_db()
    assert outcome == "active", account.last_check_error
    roles = dict(TeamMembership.objects.filter(user=account.user).values_list("team__slug", "role"))
    assert roles == {"analytics": "developer", "ml": "admin"}
    assert me(sso_world, token) == 200
    assert recheck_account(str(account.pk)) == "active", "the rotated refresh token was kept and works again"


def test_a_person_disabled_at_the_provider_loses_access_at_the_next_recheck(sso_world: SsoWorld):
    account, token = signed_in_with_a_token(sso_world, "erin", "analytics-developers")
    assert me(sso_world, token) == 200
    sso_world.provider.set_user("erin", password=PASSWORD, groups=["analytics-developers"], disabled=True)
    assert recheck_account(str(account.pk)) == "disabled"
    assert me(sso_world, token) == 401
    account.refresh_from_db()
    assert account.status == AccountStatus.DISABLED and not account.encrypted_refresh_token
    assert AuditEvent.objects.filter(action="sso.account_disabled", object_id=str(account.pk)).exists()
    assert recheck_account(str(account.pk)) == "skipped", "nothing left to ask the provider with"


def test_a_provider_that_does_not_answer_changes_nothing(sso_world: SsoWorld, settings):
    account, token = signed_in_with_a_token(sso_world, "frank", "analytics-developers")
    from flowyard_testkit.sso import sso_settings

    sso_settings(settings, sso_world.provider, oidc_discovery_url="http://127.0.0.1:9/.well-known/openid-configuration")
    assert recheck_account(str(account.pk)) == "failed"
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and "did not answer" in account.last_check_error
    assert me(sso_world, token) == 200
