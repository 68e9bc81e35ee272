"""SSO group mappings: platform staff map IdP groups to team roles, and each sign-in syncs a person's memberships."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from controlplane.core.models import AuditEvent
from controlplane.tenancy import services as tenancy
from controlplane.tenancy.errors import SsoOnly
from controlplane.tenancy.group_mappings import group_mapping_create, memberships_sync, roles_from_groups
from controlplane.tenancy.models import TeamMembership
from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role


@pytest.fixture
def teams():
    """Teams analytics and ml, one project each, and the groups mapped to them."""
    analytics = tenancy.team_create(actor=None, slug="analytics", name="Analytics")
    ml = tenancy.team_create(actor=None, slug="ml", name="ML")
    tenancy.project_create(actor=None, team=analytics, slug="reports", name="Reports")
    tenancy.project_create(actor=None, team=ml, slug="models", name="Models")
    group_mapping_create(actor=None, group="analytics-developers", team=analytics, role=Role.DEVELOPER)
    group_mapping_create(actor=None, group="analytics-approvers", team=analytics, role=Role.APPROVER)
    group_mapping_create(actor=None, group="everyone", team=analytics, role=Role.VIEWER)
    group_mapping_create(actor=None, group="ml-admins", team=ml, role=Role.ADMIN)
    return analytics, ml


@pytest.fixture
def person():
    """A person signing in through SSO for the first time."""
    return get_user_model().objects.create_user("ada")


def roles_of(user) -> dict[str, str]:
    return {m.team.slug: m.role for m in TeamMembership.objects.filter(user=user).select_related("team")}


def test_the_highest_role_any_of_the_groups_gives_wins(teams):
    analytics, _ = teams
    assert roles_from_groups(["everyone", "analytics-approvers", "analytics-developers"]) == {analytics: Role.APPROVER}
    assert roles_from_groups(["unmapped"]) == {}


def test_a_first_sync_adds_memberships_marked_as_coming_from_groups_and_grants_the_projects(teams, person):
    changes = memberships_sync(actor=None, user=person, groups=["analytics-developers", "ml-admins"])
    assert sorted((c.kind, c.slug, c.after) for c in changes) == [("added", "analytics", "developer"), ("added", "ml", "admin")]
    assert set(TeamMembership.objects.filter(user=person).values_list("source", flat=True)) == {"sso"}
    from controlplane.tenancy.models import Project

    assert role_for(person, Project.objects.get(slug="reports")) == Role.DEVELOPER
    assert role_for(person, Project.objects.get(slug="models")) == Role.ADMIN


def test_later_syncs_raise_lower_and_remove_and_each_change_is_an_audit_event(teams, person):
    memberships_sync(actor=None, user=person, groups=["analytics-developers", "ml-admins"])
    events = AuditEvent.objects.count()
    raised = memberships_sync(actor=None, user=person, groups=["analytics-approvers", "ml-admins"])
    assert [(c.kind, c.before, c.after) for c in raised] == [("raised", "developer", "approver")]
    lowered = memberships_sync(actor=None, user=person, groups=["everyone", "ml-admins"])
    assert [(c.kind, c.before, c.after) for c in lowered] == [("lowered", "approver", "viewer")]
    removed = memberships_sync(actor=None, user=person, groups=["everyone"])
    assert [(c.kind, c.slug) for c in removed] == [("removed", "ml")]
    assert roles_of(person) == {"analytics": "viewer"}
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True)[events:])
    assert actions == ["team_member.updated", "team_member.updated", "team_member.removed"]


def test_a_sync_with_nothing_new_changes_nothing(teams, person):
    memberships_sync(actor=None, user=person, groups=["analytics-developers"])
    events = AuditEvent.objects.count()
    assert memberships_sync(actor=None, user=person, groups=["analytics-developers", "unmapped"]) == []
    assert AuditEvent.objects.count() == events


def test_hand_made_memberships_stay_unless_sso_only_and_a_group_adopts_a_hand_made_one(teams, person, settings):
    analytics, ml = teams
    tenancy.team_member_set(actor=None, team=ml, user=person, role=Role.VIEWER)
    tenancy.team_member_set(actor=None, team=analytics, user=person, role=Role.DEVELOPER)
    changes = memberships_sync(actor=None, user=person, groups=["analytics-developers"])
    assert [(c.kind, c.slug) for c in changes] == [("adopted", "analytics")]
    assert TeamMembership.objects.get(user=person, team=ml).source == "manual"
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"sso_only": True, "oidc_issuer": "https://idp.example"})
    changes = memberships_sync(actor=None, user=person, groups=["analytics-developers"])
    assert [(c.kind, c.slug) for c in changes] == [("removed", "ml")]
    assert roles_of(person) == {"analytics": "developer"}


def test_sso_only_refuses_hand_made_memberships_and_keeps_nothing(teams, person, settings):
    analytics, _ = teams
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"sso_only": True, "oidc_issuer": "https://idp.example"})
    with pytest.raises(SsoOnly, match="group-mappings"):
        tenancy.team_member_set(actor=None, team=analytics, user=person, role=Role.ADMIN)
    assert not TeamMembership.objects.filter(user=person).exists()
