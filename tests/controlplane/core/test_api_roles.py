"""Each role may do exactly the writes its rank allows; each allowed write leaves one audit event."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from controlplane.core.models import AuditEvent
from controlplane.tenancy import services as tenancy
from flowyard_testkit.routes import WRITE_METHODS, api_routes
from flowyard_testkit.tokens import run_token_issue
from flowyard_testkit.writes import (
    ALL_WRITES,
    PERSONAL_WRITES,
    PROJECT_CREATE,
    PROJECT_WRITES,
    RUNNER_WRITES,
    TEAM_WRITES,
    send,
)
from flowyard_spec.states import Role


def test_the_write_table_covers_every_write_the_api_offers():
    offered = {(route.name, method) for route in api_routes() for method in route.methods if method in WRITE_METHODS}
    covered = {(write.route, write.method) for write in ALL_WRITES}
    assert offered == covered, f"missing from the table: {offered - covered}; stale: {covered - offered}"


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("write", PROJECT_WRITES, ids=lambda write: write.id)
def test_a_project_role_may_do_exactly_what_its_rank_allows(write, role, tenant_a, client_for, fingerprint):
    user = tenant_a.users[role]
    events_before = AuditEvent.objects.count()
    before = fingerprint()
    response = send(client_for(user), write, tenant_a)
    if role.includes(write.role):
        assert response.status_code == write.success, response.json()
        assert AuditEvent.objects.count() == events_before + 1, "an allowed write must leave exactly one audit event"
        event = AuditEvent.objects.latest("pk")
        assert event.actor == user and event.team_id == tenant_a.team.pk
    else:
        assert response.status_code == 403, response.json()
        body = response.json()
        assert body["code"] == "permission_denied" and write.role.value in body["message"]
        assert fingerprint() == before, "a refused write changed the database"


@pytest.mark.parametrize("write", PROJECT_WRITES, ids=lambda write: write.id)
def test_a_user_of_another_team_is_refused_without_learning_anything(write, tenant_a, tenant_b, client_for, fingerprint):
    before = fingerprint()
    response = send(client_for(tenant_b.admin), write, tenant_a)
    expected = 404 if write.target else 400  # creates: the referenced project objects "do not exist"
    assert response.status_code == expected, response.json()
    assert tenant_a.prefix not in str(response.json())
    assert fingerprint() == before


def test_a_direct_project_viewer_may_read_but_not_write(tenant_a, client_for):
    client = client_for(tenant_a.direct_member)
    assert client.get(f"/api/v1/runs/{tenant_a.run.pk}/").status_code == 200
    response = client.post(f"/api/v1/runs/{tenant_a.run.pk}/cancel/", format="json")
    assert response.status_code == 403


@pytest.fixture
def team_world(tenant_a):
    """Tenant A plus an empty team that staff may delete."""
    tenant_a.extra["empty_team"] = tenancy.team_create(actor=None, slug="empty-team", name="Empty")
    return tenant_a


@pytest.mark.parametrize("write", TEAM_WRITES, ids=lambda write: write.id)
def test_only_platform_staff_manage_teams_and_team_members(write, team_world, staff_user, client_for, fingerprint):
    before = fingerprint()
    for role in Role:
        response = send(client_for(team_world.users[role]), write, team_world)
        assert response.status_code in (403, 404), (role, response.json())
    assert fingerprint() == before
    events_before = AuditEvent.objects.count()
    response = send(client_for(staff_user), write, team_world)
    assert response.status_code == write.success, response.json()
    assert AuditEvent.objects.count() == events_before + 1


def test_team_admins_and_staff_may_create_projects_in_the_team_and_nobody_else(tenant_a, tenant_b, staff_user, client_for):
    for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER):
        assert send(client_for(tenant_a.users[role]), PROJECT_CREATE, tenant_a).status_code == 403
    assert send(client_for(tenant_b.admin), PROJECT_CREATE, tenant_a).status_code == 400  # team A is invisible to B
    events_before = AuditEvent.objects.count()
    response = send(client_for(tenant_a.admin), PROJECT_CREATE, tenant_a)
    assert response.status_code == 201
    assert AuditEvent.objects.count() == events_before + 1
    created = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/projects/{response.json()['id']}/")
    assert created.json()["my_role"] == "viewer", "the team's roles apply to projects created later"
    staff = client_for(staff_user).post(
        "/api/v1/projects/", {"team": str(tenant_a.team.pk), "slug": "by-staff", "name": "By staff"}, format="json"
    )
    assert staff.status_code == 201


@pytest.mark.parametrize("write", PERSONAL_WRITES, ids=lambda write: write.id)
def test_everyone_manages_their_own_personal_tokens(write, tenant_a, client_for):
    events_before = AuditEvent.objects.count()
    response = send(client_for(tenant_a.admin), write, tenant_a)
    assert response.status_code == write.success
    assert AuditEvent.objects.count() == events_before + 1
    other = get_user_model().objects.get(username=f"{tenant_a.prefix}-viewer")
    if write.target:
        assert send(client_for(other), write, tenant_a).status_code == 404


def test_staff_see_and_manage_every_project_record_but_not_what_is_inside(tenant_a, staff_user, client_for):
    client = client_for(staff_user)
    assert client.get(f"/api/v1/projects/{tenant_a.project.pk}/").json()["my_role"] is None
    assert client.get(f"/api/v1/workflows/{tenant_a.workflow.pk}/").status_code == 404
    assert client.get(f"/api/v1/runs/{tenant_a.run.pk}/").status_code == 404
    renamed = client.patch(f"/api/v1/projects/{tenant_a.project.pk}/", {"name": "Renamed by staff"}, format="json")
    assert renamed.status_code == 200, "platform staff manage project records (name, quotas)"
    assert client.get(f"/api/v1/workflows/{tenant_a.workflow.pk}/").status_code == 404, "but still see nothing inside"


@pytest.mark.parametrize("write", RUNNER_WRITES, ids=lambda write: write.route)
def test_no_role_may_report_on_a_run_only_its_own_run_token_may(write, tenant_a, tenant_b, client_for, fingerprint):
    before = fingerprint()
    for role in Role:
        response = send(client_for(tenant_a.users[role]), write, tenant_a)
        assert response.status_code == 403, (role, response.json())
    other_runner = client_for(None)
    other_runner.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=tenant_b.run)}")
    assert send(other_runner, write, tenant_a).status_code == 404
    runner = client_for(None)
    runner.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=tenant_a.run)}")
    assert send(runner, write, tenant_a).status_code == write.success
    assert runner.get(f"/api/v1/runs/{tenant_a.run.pk}/").status_code == 403, "a run token reads nothing"
