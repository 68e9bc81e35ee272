"""The periodic scheduler task does the whole pass: fire ticks, dispatch backfills, mark late runs."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from controlplane.deployments import services as deployments
from controlplane.runs.models import Run
from controlplane.scheduling.backfills import backfill_create
from controlplane.scheduling.models import ScheduleState
from controlplane.scheduling.tasks import scheduler_tick
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest


def test_one_pass_starts_a_schedule_dispatches_a_backfill_and_marks_a_late_run(tenant_a):
    workflow = workflows.workflow_create(actor=None, project=tenant_a.project, name="minutely")
    version = register_version(
        workflow=workflow, image_ref="127.0.0.1:5000/a/minutely:1", image_digest=digest("minutely"),
        config={"name": "minutely", "schedule-enabled": True, "schedule": "rate(1 minute)", "start-deadline": 30},
    )
    deployment = deployments.deployment_set(actor=None, workflow=workflow, environment=tenant_a.production_env,
                                            version=version)
    now = timezone.now()
    backfill = backfill_create(actor=tenant_a.admin, deployment=deployment, start=now - timedelta(minutes=30),
                               end=now - timedelta(minutes=20), max_active=2)
    stuck = Run.objects.create(deployment=deployment, version=version, trigger="schedule",
                               scheduled_for=now - timedelta(minutes=40))

    summary = scheduler_tick()

    assert ScheduleState.objects.get(deployment=deployment).cursor is not None  # the schedule started
    assert Run.objects.filter(backfill=backfill).count() == 2 and summary["backfill_runs"] == 2
    stuck.refresh_from_db()
    assert stuck.late_at is not None and summary["late"] == 1
