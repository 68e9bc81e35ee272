"""Trigger grants: the downstream project's admin lets another project's workflows trigger its own."""

from __future__ import annotations

import pytest

from controlplane.core.models import AuditEvent
from controlplane.scheduling.grants import trigger_grant_create
from controlplane.scheduling.models import TriggerGrant
from controlplane.tenancy import services as tenancy
from flowyard_spec.states import Role

URL = "/api/v1/trigger-grants/"


@pytest.fixture
def grant(tenant_a) -> TriggerGrant:
    """Team A's main project lets its empty project trigger it."""
    existing = TriggerGrant.objects.filter(project=tenant_a.project, upstream_project=tenant_a.empty_project).first()
    return existing or trigger_grant_create(actor=tenant_a.admin, project=tenant_a.project,
                                            upstream_project=tenant_a.empty_project)


def test_an_admin_allows_a_project_named_by_slug_or_id_and_it_is_audited(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    TriggerGrant.objects.filter(project=tenant_a.project).delete()
    response = client.post(URL, {"project": tenant_a.project.slug, "upstream_project": tenant_a.empty_project.slug},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["project_slug"], body["upstream_project_slug"]) == ("alpha-main", "alpha-empty")
    assert body["created_by_label"] == tenant_a.admin.username
    event = AuditEvent.objects.get(action="trigger_grant.created", object_id=body["id"])
    assert event.project == tenant_a.project and event.actor == tenant_a.admin
    by_id = client.post(URL, {"project": str(tenant_a.empty_project.pk), "upstream_project": str(tenant_a.project.pk)},
                        format="json")
    assert by_id.status_code == 201, by_id.json()


def test_only_the_downstream_projects_admin_may_grant(tenant_a, client_for):
    body = {"project": str(tenant_a.empty_project.pk), "upstream_project": tenant_a.project.slug}
    for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER):
        response = client_for(tenant_a.users[role]).post(URL, body, format="json")
        assert response.status_code == 403 and response.json()["extra"]["required_role"] == "admin"
    assert not TriggerGrant.objects.filter(project=tenant_a.empty_project).exists()


def test_a_project_of_another_team_reads_exactly_like_one_that_does_not_exist(tenant_a, tenant_b, client_for):
    client = client_for(tenant_a.admin)
    answers = [
        client.post(URL, {"project": str(tenant_a.project.pk), "upstream_project": name}, format="json").json()
        for name in (tenant_b.project.slug, "no-such-project", str(tenant_b.project.pk))
    ]
    assert len({str(answer["extra"]["fields"]) for answer in answers}) == 1
    assert "does not exist, or is not visible to you" in answers[0]["extra"]["fields"]["upstream_project"][0]
    assert all("bravo" not in str(answer) for answer in answers)


def test_an_admin_of_both_projects_may_allow_across_teams(tenant_a, tenant_b, client_for):
    tenancy.project_member_set(actor=None, project=tenant_b.project, user=tenant_a.admin, role=Role.VIEWER)
    response = client_for(tenant_a.admin).post(
        URL, {"project": str(tenant_a.project.pk), "upstream_project": tenant_b.project.slug}, format="json")
    assert response.status_code == 201, response.json()


def test_a_project_needs_no_grant_from_itself_and_one_grant_per_pair_is_enough(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    itself = client.post(URL, {"project": tenant_a.project.slug, "upstream_project": tenant_a.project.slug},
                         format="json")
    assert itself.status_code == 400 and "always trigger each other" in str(itself.json())
    body = {"project": tenant_a.empty_project.slug, "upstream_project": tenant_a.project.slug}
    assert client.post(URL, body, format="json").status_code == 201
    again = client.post(URL, body, format="json")
    assert again.status_code == 400 and "already allows" in again.json()["extra"]["fields"]["upstream_project"][0]


def test_viewers_of_the_downstream_project_read_grants_and_another_team_sees_none(tenant_a, tenant_b, grant, client_for):
    viewer = client_for(tenant_a.users[Role.VIEWER])
    assert [item["id"] for item in viewer.get(URL).json()["results"]] == [str(grant.pk)]
    assert viewer.get(f"{URL}{grant.pk}/").json()["upstream_project_slug"] == tenant_a.empty_project.slug
    assert viewer.get(URL, {"project": str(tenant_a.empty_project.pk)}).json()["results"] == []
    stranger = client_for(tenant_b.admin)
    assert str(grant.pk) not in str(stranger.get(URL).json())
    assert stranger.get(f"{URL}{grant.pk}/").status_code == 404
    assert stranger.delete(f"{URL}{grant.pk}/").status_code == 404


def test_an_admin_withdraws_a_grant_and_it_is_audited(tenant_a, grant, client_for):
    assert client_for(tenant_a.users[Role.DEVELOPER]).delete(f"{URL}{grant.pk}/").status_code == 403
    assert client_for(tenant_a.admin).delete(f"{URL}{grant.pk}/").status_code == 204
    assert not TriggerGrant.objects.filter(pk=grant.pk).exists()
    event = AuditEvent.objects.get(action="trigger_grant.deleted", object_id=str(grant.pk))
    assert event.before["upstream_project_id"] == str(tenant_a.empty_project.pk)
