"""Runs through the API: trigger with parameters, list and filter, read tasks and logs, cancel."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment, Environment
from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_spec.states import TERMINAL_RUN_STATES, Role, RunState
from flowyard_testkit.tenants import digest

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def developer(tenant_a, client_for):
    return client_for(tenant_a.users[Role.DEVELOPER])


def make_run(deployment, state: RunState, created_at: datetime.datetime) -> Run:
    """A run in `state`, created at `created_at` (set directly in the database)."""
    run = Run.objects.create(deployment=deployment, version=deployment.version, state=state.value)
    Run.objects.filter(pk=run.pk).update(created_at=created_at)
    return run


@pytest.fixture
def history(tenant_a):
    """Six runs an hour apart across two projects, environments and workflows, in several states."""
    t0 = (timezone.now() - datetime.timedelta(days=1)).replace(microsecond=0)
    Run.objects.filter(pk=tenant_a.run.pk).update(created_at=t0)  # QUEUED, etl in test
    other_workflow = workflows.workflow_create(actor=None, project=tenant_a.empty_project, name="side")
    other_version = register_version(
        workflow=other_workflow, image_digest=digest("side"), image_ref="127.0.0.1:5000/side:1",
        config={"name": "side"},
    )
    other_deployment = deployments.deployment_set(
        actor=None, workflow=other_workflow, version=other_version,
        environment=Environment.objects.get(project=tenant_a.empty_project, name="test"),
    )
    runs = {
        "queued": Run.objects.get(pk=tenant_a.run.pk),
        "running": make_run(tenant_a.test_deployment, RunState.RUNNING, t0 + HOUR),
        "succeeded_in_production": make_run(tenant_a.production_deployment, RunState.SUCCEEDED, t0 + 2 * HOUR),
        "failed_report": make_run(tenant_a.report_test_deployment, RunState.FAILED, t0 + 3 * HOUR),
        "cancelling": make_run(tenant_a.test_deployment, RunState.CANCELLING, t0 + 4 * HOUR),
        "other_project": make_run(other_deployment, RunState.QUEUED, t0 + 5 * HOUR),
    }
    return t0, {name: str(run.pk) for name, run in runs.items()}


def listed(client, **query) -> list[str]:
    response = client.get("/api/v1/runs/", query)
    assert response.status_code == 200, response.json()
    return [run["id"] for run in response.json()["results"]]


# -- triggering ----------------------------------------------------------------------------------


def test_triggering_merges_declared_defaults_with_the_given_parameters(tenant_a, developer):
    response = developer.post(
        "/api/v1/runs/", {"deployment": str(tenant_a.test_deployment.pk), "parameters": {"limit": 5}}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "QUEUED"
    assert response.json()["parameters"] == {"day": "2026-01-01", "limit": 5}
    assert Run.objects.get(pk=response.json()["id"]).parameters == {"day": "2026-01-01", "limit": 5}


def test_an_undeclared_parameter_is_refused_and_no_run_is_created(tenant_a, developer):
    runs_before = Run.objects.count()
    response = developer.post(
        "/api/v1/runs/", {"deployment": str(tenant_a.test_deployment.pk), "parameters": {"dya": "typo"}}, format="json"
    )
    assert response.status_code == 400, response.json()
    problems = response.json()["extra"]["fields"]["parameters"]
    assert "dya" in problems[0] and "day" in problems[0], "the message names the unknown and the declared parameters"
    assert Run.objects.count() == runs_before


def test_triggering_a_deployment_without_a_version_is_a_conflict(tenant_a, developer):
    empty = Deployment.objects.create(workflow=tenant_a.ingest, environment=tenant_a.test_env)
    runs_before = Run.objects.count()
    response = developer.post("/api/v1/runs/", {"deployment": str(empty.pk)}, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "nothing_deployed"
    assert Run.objects.count() == runs_before


# -- listing -------------------------------------------------------------------------------------


def test_runs_are_listed_newest_first(tenant_a, developer, history):
    _, runs = history
    assert listed(developer) == [runs[name] for name in (
        "other_project", "cancelling", "failed_report", "succeeded_in_production", "running", "queued",
    )]


def test_runs_filter_by_project_workflow_environment_and_state(tenant_a, developer, history):
    _, runs = history
    assert runs["other_project"] not in listed(developer, project=str(tenant_a.project.pk))
    assert len(listed(developer, project=str(tenant_a.project.pk))) == 5
    assert listed(developer, project=str(tenant_a.empty_project.pk)) == [runs["other_project"]]
    assert set(listed(developer, workflow=str(tenant_a.workflow.pk))) == {
        runs["queued"], runs["running"], runs["succeeded_in_production"], runs["cancelling"]
    }
    assert listed(developer, environment=str(tenant_a.production_env.pk)) == [runs["succeeded_in_production"]]
    assert listed(developer, state="FAILED") == [runs["failed_report"]]
    assert listed(developer, state=["QUEUED", "RUNNING"]) == [runs["other_project"], runs["running"], runs["queued"]]


def test_runs_filter_by_creation_time(developer, history):
    t0, runs = history
    window = listed(developer, created_after=(t0 + HOUR).isoformat(), created_before=(t0 + 3 * HOUR).isoformat())
    assert window == [runs["succeeded_in_production"], runs["running"]], "after is inclusive, before is exclusive"
    assert listed(developer, created_after=(t0 + 5 * HOUR).isoformat()) == [runs["other_project"]]


def test_cursor_pages_walk_every_run_exactly_once(developer, history):
    _, runs = history
    seen, pages = [], 0
    response = developer.get("/api/v1/runs/", {"limit": 2})
    while True:
        assert response.status_code == 200, response.json()
        page = [run["id"] for run in response.json()["results"]]
        assert len(page) <= 2
        seen += page
        pages += 1
        if not response.json()["next"]:
            break
        response = developer.get(response.json()["next"])
    assert pages == 3
    assert seen == listed(developer), "the pages together are the whole list, in order"
    assert sorted(seen) == sorted(runs.values())


# -- tasks and logs ------------------------------------------------------------------------------


def test_a_runs_tasks_are_listed(tenant_a, client_for):
    TaskRun.objects.create(run=tenant_a.run, task_key="load-0", name="load", state="RUNNING")
    response = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/runs/{tenant_a.run.pk}/tasks/")
    assert response.status_code == 200
    assert [(task["task_key"], task["state"]) for task in response.json()] == [
        ("extract-0", "SUCCEEDED"), ("load-0", "RUNNING")
    ]


def test_logs_after_a_cursor_come_in_order_with_the_next_cursor(tenant_a, client_for):
    for seq in (5, 4):  # stored out of order
        RunLogLine.objects.create(run=tenant_a.run, seq=seq, at=timezone.now(), message=f"line {seq}")
    client = client_for(tenant_a.users[Role.VIEWER])
    page = client.get(f"/api/v1/runs/{tenant_a.run.pk}/logs/", {"after": 1}).json()
    assert [line["seq"] for line in page["lines"]] == [2, 3, 4, 5]
    assert page["lines"][0]["message"] == "alpha line 2"
    assert page["next_after"] == 5 and page["run_state"] == "QUEUED"
    rest = client.get(f"/api/v1/runs/{tenant_a.run.pk}/logs/", {"after": page["next_after"]}).json()
    assert rest["lines"] == [] and rest["next_after"] == 5


# -- cancelling ----------------------------------------------------------------------------------


def cancel(client, run):
    return client.post(f"/api/v1/runs/{run.pk}/cancel/", format="json")


def test_cancelling_a_queued_run_ends_it_at_once(tenant_a, developer):
    response = cancel(developer, tenant_a.run)
    assert response.status_code == 200, response.json()
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert (run.state, run.reason) == ("CANCELLED", "cancelled")
    assert run.ended_at is not None and response.json()["ended_at"] is not None


def test_cancelling_a_running_run_asks_the_runtime_to_stop_it(tenant_a, developer):
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.RUNNING, started_at=timezone.now())
    response = cancel(developer, tenant_a.run)
    assert response.status_code == 200, response.json()
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert run.state == "CANCELLING" and run.ended_at is None


@pytest.mark.parametrize("state", sorted(TERMINAL_RUN_STATES))
def test_cancelling_a_finished_run_is_refused_and_changes_nothing(state, tenant_a, developer):
    Run.objects.filter(pk=tenant_a.run.pk).update(state=state, ended_at=timezone.now())
    before = list(Run.objects.filter(pk=tenant_a.run.pk).values())
    events_before = AuditEvent.objects.count()
    response = cancel(developer, tenant_a.run)
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "transition_refused"
    assert list(Run.objects.filter(pk=tenant_a.run.pk).values()) == before
    assert AuditEvent.objects.count() == events_before


def test_cancelling_a_cancelling_run_again_changes_nothing(tenant_a, developer):
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.RUNNING)
    assert cancel(developer, tenant_a.run).json()["state"] == "CANCELLING"
    before = list(Run.objects.filter(pk=tenant_a.run.pk).values())
    events_before = AuditEvent.objects.count()
    again = cancel(developer, tenant_a.run)
    assert again.status_code == 200, again.json()
    assert again.json()["state"] == "CANCELLING"
    assert list(Run.objects.filter(pk=tenant_a.run.pk).values()) == before
    assert AuditEvent.objects.count() == events_before
