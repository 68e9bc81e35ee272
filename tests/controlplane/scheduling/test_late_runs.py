"""Late runs: a scheduled run that cannot start within its start deadline is marked with why, never silent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.runs import lifecycle
from controlplane.runs.models import Run, RunLogLine
from controlplane.scheduling.late import mark_late_runs
from controlplane.scheduling.scheduler import fire_due_schedules
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_spec.states import RunState
from flowyard_testkit.tenants import build_tenant, digest

T0 = datetime(2026, 11, 2, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def deployment():
    """An hourly production deployment with a 120 s start deadline."""
    tenant = build_tenant("late")
    workflow = workflows.workflow_create(actor=None, project=tenant.project, name="hourly")
    version = register_version(
        workflow=workflow, image_ref="127.0.0.1:5000/late/hourly:1", image_digest=digest("hourly"),
        config={"name": "hourly", "schedule-enabled": True, "schedule": "rate(1 hour)", "start-deadline": 120},
    )
    return deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.production_env, version=version)


def scheduled_run(deployment, *, at: datetime) -> Run:
    """The run the scheduler creates for the tick at `at`, created on time."""
    fire_due_schedules(now=at - timedelta(minutes=30))
    fire_due_schedules(now=at + timedelta(seconds=1))
    run = Run.objects.get(deployment=deployment, scheduled_for=at)
    Run.objects.filter(pk=run.pk).update(created_at=at + timedelta(seconds=1))  # as if the clock were real
    run.refresh_from_db()
    return run


def test_a_run_still_waiting_after_its_deadline_is_marked_late_with_the_waiting_reason(deployment):
    run = scheduled_run(deployment, at=T0)
    Run.objects.filter(pk=run.pk).update(message="Waiting to start: hourly already has 1 run going (concurrency 1).")

    assert mark_late_runs(now=T0 + timedelta(seconds=119)) == []
    [marked] = mark_late_runs(now=T0 + timedelta(seconds=121))

    run.refresh_from_db()
    assert marked.pk == run.pk and run.late_at == T0 + timedelta(seconds=121)
    assert run.late_reason == "hourly already has 1 run going (concurrency 1)"
    assert run.state == RunState.QUEUED  # still waiting; the start timeout ends it if it never starts
    line = RunLogLine.objects.filter(run=run).latest("seq")
    assert line.stream == "system" and line.message.startswith("Late: not started 120 s after its tick")
    assert AuditEvent.objects.filter(action="run.late", object_id=str(run.pk)).count() == 1


def test_marking_twice_marks_once(deployment):
    run = scheduled_run(deployment, at=T0)
    mark_late_runs(now=T0 + timedelta(minutes=5))
    assert mark_late_runs(now=T0 + timedelta(minutes=6)) == []
    assert RunLogLine.objects.filter(run=run).count() == 1


def test_a_run_that_started_in_time_is_never_marked(deployment):
    run = scheduled_run(deployment, at=T0)
    locked = Run.objects.select_for_update().get(pk=run.pk)
    lifecycle.transition(locked, RunState.STARTING)
    lifecycle.transition(locked, RunState.RUNNING)
    locked.save()
    assert mark_late_runs(now=T0 + timedelta(minutes=5)) == []
    run.refresh_from_db()
    assert run.late_at is None


def test_a_run_the_scheduler_created_late_says_the_scheduler_was_down(deployment):
    fire_due_schedules(now=T0 - timedelta(minutes=30))
    # catch-up 'latest' would run it; with the default 'skip' a recent tick runs late but within the grace
    fire_due_schedules(now=T0 + timedelta(seconds=50))
    run = Run.objects.get(deployment=deployment, scheduled_for=T0)
    Run.objects.filter(pk=run.pk).update(created_at=T0 + timedelta(seconds=150))
    mark_late_runs(now=T0 + timedelta(seconds=160))
    run.refresh_from_db()
    assert run.late_reason.startswith("created 150 s after its tick")


def test_a_run_with_no_worker_says_so(deployment):
    run = scheduled_run(deployment, at=T0)
    mark_late_runs(now=T0 + timedelta(minutes=3))
    run.refresh_from_db()
    assert "no worker has picked up its launch" in run.late_reason


def test_the_late_filter_finds_late_runs(deployment, client_for):
    run = scheduled_run(deployment, at=T0)
    mark_late_runs(now=T0 + timedelta(minutes=3))
    client = client_for(deployment.environment.project.team.memberships.get(role="admin").user)
    late = client.get("/api/v1/runs/", {"late": "true"}).json()["results"]
    assert [item["id"] for item in late] == [str(run.pk)]
    assert late[0]["late_reason"] and late[0]["late_at"]


def test_a_run_is_judged_by_its_own_versions_deadline_after_a_new_version_is_deployed(deployment):
    run = scheduled_run(deployment, at=T0)
    newer = register_version(
        workflow=deployment.workflow, image_ref="127.0.0.1:5000/late/hourly:2",
        image_digest=digest("hourly-2"),
        config={"name": "hourly", "schedule-enabled": True, "schedule": "rate(1 hour)", "start-deadline": 3600},
    )
    deployments.deployment_update(actor=None, deployment=deployment, version=newer)
    [marked] = mark_late_runs(now=T0 + timedelta(seconds=121))  # 120 s, as its version said
    assert marked.pk == run.pk
