"""Signing a checked identity in: accounts made just in time, memberships from groups, refusal with no role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from controlplane.core.models import AuditEvent
from controlplane.gitops.models import ForgeIdentity
from controlplane.sso.errors import SignInRefused
from controlplane.sso.identity import Identity
from controlplane.sso.models import AccountStatus, SsoAccount
from controlplane.sso.services import sign_in
from controlplane.tenancy import services as tenancy
from controlplane.tenancy.group_mappings import group_mapping_create
from flowyard_spec.states import Role

ISSUER = "https://idp.example.invalid"


@pytest.fixture
def analytics():
    """Team analytics with a project, and its developers' group mapped."""
    team = tenancy.team_create(actor=None, slug="analytics", name="Analytics")
    tenancy.project_create(actor=None, team=team, slug="reports", name="Reports")
    group_mapping_create(actor=None, group="analytics-developers", team=team, role=Role.DEVELOPER)
    return team


def ada(*groups: str, forge_login: str = "") -> Identity:
    """Ada as the provider describes her, in `groups`."""
    return Identity(issuer=ISSUER, subject="sub-ada", username="ada", email="ada@example.invalid",
                    name="Ada Lovelace", groups=tuple(groups), forge_login=forge_login)


def bearer(user) -> APIClient:
    """An API client using a fresh personal token of `user`."""
    _, value = tenancy.personal_token_create(actor=user, name="laptop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def test_a_first_sign_in_creates_the_person_with_the_claims_and_the_teams_role(analytics):
    outcome = sign_in(identity=ada("analytics-developers"), refresh_token="rt-1")
    assert outcome.allowed
    user = outcome.user
    assert (user.username, user.email, user.first_name, user.last_name) == ("ada", "ada@example.invalid", "Ada", "Lovelace")
    assert not user.has_usable_password(), "SSO people have no Flowyard password"
    account = SsoAccount.objects.get(user=user)
    assert account.groups == ["analytics-developers"]
    assert account.encrypted_refresh_token and "rt-1" not in account.encrypted_refresh_token
    assert AuditEvent.objects.filter(action="sso.login", actor=user).exists()
    assert bearer(user).get("/api/v1/projects/").json()["results"][0]["my_role"] == "developer"


def test_a_newcomer_none_of_whose_groups_is_mapped_is_refused_and_no_user_is_created(analytics):
    outcome = sign_in(identity=ada("marketing"))
    assert not outcome.allowed and outcome.user is None
    assert "marketing" in outcome.message and "platform admin" in outcome.message
    assert not get_user_model().objects.filter(username="ada").exists()
    assert AuditEvent.objects.filter(action="sso.login_refused", object_repr="ada").exists()


def test_losing_every_group_refuses_the_next_sign_in_and_the_persons_tokens_answer_401(analytics):
    user = sign_in(identity=ada("analytics-developers")).user
    client = bearer(user)
    assert client.get("/api/v1/me/").status_code == 200
    outcome = sign_in(identity=ada())
    assert not outcome.allowed
    assert "the provider listed no groups for you" in outcome.message
    assert client.get("/api/v1/me/").status_code == 401
    assert SsoAccount.objects.get(user=user).status == AccountStatus.NO_ROLE
    assert sign_in(identity=ada("analytics-developers")).allowed, "a group given back restores access"
    assert client.get("/api/v1/me/").status_code == 200


def test_a_local_account_of_the_same_name_is_linked_but_a_platform_admins_is_never_taken_over(analytics):
    local = get_user_model().objects.create_user("ada", password="pw")
    assert sign_in(identity=ada("analytics-developers")).user == local
    get_user_model().objects.create_user("root", password="pw", is_superuser=True, is_staff=True)
    with pytest.raises(SignInRefused, match="not taken over"):
        sign_in(identity=Identity(issuer=ISSUER, subject="sub-root", username="root", email="", name="",
                                  groups=("analytics-developers",)))
    assert not SsoAccount.objects.filter(subject="sub-root").exists()


def test_the_forge_claim_records_the_persons_forge_login(analytics, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = sign_in(identity=ada("analytics-developers", forge_login="Ada-GL")).user
    identity = ForgeIdentity.objects.get(user=user)
    assert (identity.forge, identity.username, identity.source) == ("gitlab", "ada-gl", "sso")
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(identity=ada("analytics-developers", forge_login="ada-renamed"))
    assert list(ForgeIdentity.objects.filter(user=user).values_list("username", flat=True)) == ["ada-renamed"]
