"""A project's CI token may start a smoke run outside protected environments and follow that run, nothing more:
never in production, never another project's, never a run somebody else started, and no other run action."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from controlplane.runs.models import Run
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db


def ci_client(tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def test_a_ci_token_starts_a_run_in_test_and_follows_it(tenant_a):
    ci = ci_client(tenant_a)
    started = ci.post("/api/v1/runs/", {"deployment": str(tenant_a.test_deployment.pk)}, format="json")
    assert started.status_code == 201, started.json()
    run = Run.objects.get(pk=started.json()["id"])
    assert (run.trigger, run.triggered_by_label) == ("api", f"ci-token:{tenant_a.ci_token.name}@{tenant_a.project.slug}")
    assert ci.get(f"/api/v1/runs/{run.pk}/").json()["state"] == "QUEUED"
    page = ci.get(f"/api/v1/runs/{run.pk}/logs/", {"after": 0})
    assert page.status_code == 200 and page.json()["lines"] == []


def test_a_ci_token_may_not_start_a_run_in_production(tenant_a):
    runs_before = Run.objects.count()
    refused = ci_client(tenant_a).post(
        "/api/v1/runs/", {"deployment": str(tenant_a.production_deployment.pk)}, format="json")
    assert refused.status_code == 403, refused.json()
    assert "requires approval" in refused.json()["message"]
    assert Run.objects.count() == runs_before


def test_a_ci_token_cannot_start_another_projects_run(tenant_a, tenant_b):
    refused = ci_client(tenant_a).post("/api/v1/runs/", {"deployment": str(tenant_b.test_deployment.pk)}, format="json")
    assert refused.status_code == 400, "another team's deployment does not exist for it"
    assert "deployment" in refused.json()["extra"]["fields"]


def test_a_ci_token_reads_only_the_runs_it_started(tenant_a, client_for):
    person_started = tenant_a.run  # triggered by a person in the fixtures
    ci = ci_client(tenant_a)
    assert ci.get(f"/api/v1/runs/{person_started.pk}/").status_code == 403
    assert ci.get(f"/api/v1/runs/{person_started.pk}/logs/").status_code == 403
    assert ci.get("/api/v1/runs/").status_code == 403, "no listing"
    assert ci.post(f"/api/v1/runs/{person_started.pk}/cancel/").status_code == 403, "no cancelling"


def test_people_keep_their_roles_on_runs(tenant_a, client_for):
    viewer = client_for(tenant_a.users[Role.VIEWER])
    assert viewer.get(f"/api/v1/runs/{tenant_a.run.pk}/logs/").status_code == 200
    refused = viewer.post("/api/v1/runs/", {"deployment": str(tenant_a.test_deployment.pk)}, format="json")
    assert refused.status_code == 403 and refused.json()["extra"]["required_role"] == "developer"
    developer = client_for(tenant_a.users[Role.DEVELOPER])
    assert developer.post("/api/v1/runs/", {"deployment": str(tenant_a.production_deployment.pk)},
                          format="json").status_code == 201, "people may run production as before"
