"""List endpoints make a bounded number of database queries, whatever the number of rows on the page; a trigger
asks for the caller's role once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlplane.runs.models import Run, RunLogLine
from controlplane.tenancy import services as tenancy
from flowyard_spec.states import Role, RunState

# The most queries each endpoint may make (authentication, scoping, the page, its prefetches): a page of 5 rows and
# a page of 50 make the same number.
PROJECTS_MAX, RUNS_MAX, LOGS_MAX = 8, 8, 8
# A trigger: the deployment by id, the caller's role (guardian: their own and their groups' permissions), the run
# and its audit event in one transaction. The role was asked twice (the deployment's visibility, then the action's
# check), and the deployment read through guardian's permission subqueries.
TRIGGER_MAX = 7


def query_count(client, url: str, query: dict) -> int:
    """How many queries one GET of url makes (it must answer 200), once the process's caches (content types) are
    warm."""
    client.get(url, query)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def more_projects(tenant, count: int) -> None:
    for number in range(count):
        tenancy.project_create(actor=None, team=tenant.team, slug=f"{tenant.prefix}-extra-{number}",
                               name=f"Extra {number}")


def more_runs(tenant, count: int) -> None:
    Run.objects.bulk_create([
        Run(deployment=tenant.test_deployment, version=tenant.test_deployment.version, state=RunState.SUCCEEDED.value)
        for _ in range(count)
    ])


def more_lines(tenant, count: int) -> None:
    first = RunLogLine.objects.filter(run=tenant.run).count() + 1
    RunLogLine.objects.bulk_create([
        RunLogLine(run=tenant.run, seq=seq, at=timezone.now(), message=f"line {seq}")
        for seq in range(first, first + count)
    ])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_the_project_list_with_my_role_costs_the_same_for_3_projects_as_for_30(tenant_a, client_for, role):
    client = client_for(tenant_a.users[role])
    few = query_count(client, "/api/v1/projects/", {"limit": 50})
    more_projects(tenant_a, 28)
    response = client.get("/api/v1/projects/", {"limit": 50})
    assert {project["my_role"] for project in response.json()["results"]} == {role.value}
    assert len(response.json()["results"]) == 30
    many = query_count(client, "/api/v1/projects/", {"limit": 50})
    assert many == few <= PROJECTS_MAX


def test_the_run_list_costs_the_same_for_a_page_of_5_as_for_a_page_of_50(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.VIEWER])
    more_runs(tenant_a, 60)
    few = query_count(client, "/api/v1/runs/", {"limit": 5})
    many = query_count(client, "/api/v1/runs/", {"limit": 50})
    assert many == few <= RUNS_MAX


def test_the_log_page_costs_the_same_for_5_lines_as_for_500(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.VIEWER])
    more_lines(tenant_a, 600)
    few = query_count(client, f"/api/v1/runs/{tenant_a.run.pk}/logs/", {"after": 0, "limit": 5})
    many = query_count(client, f"/api/v1/runs/{tenant_a.run.pk}/logs/", {"after": 0, "limit": 500})
    assert many == few <= LOGS_MAX


def test_the_project_list_without_a_role_shows_no_project_of_another_team(tenant_a, tenant_b, client_for):
    listed = client_for(tenant_b.users[Role.ADMIN]).get("/api/v1/projects/", {"limit": 50}).json()["results"]
    assert tenant_a.project.slug not in {project["slug"] for project in listed}


def test_triggering_a_run_reads_the_deployment_by_id_and_the_callers_role_once(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.DEVELOPER])
    body = {"deployment": str(tenant_a.test_deployment.pk)}
    assert client.post("/api/v1/runs/", body, format="json").status_code == 201  # warm: content types
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 201, response.json()
    queries = [query["sql"] for query in captured.captured_queries]
    assert sum("auth_permission" in sql for sql in queries) == 2, queries
    assert len(queries) <= TRIGGER_MAX, queries
