"""Late runs: a scheduled run not started within its start deadline is marked, with why, never left silent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import SystemActor, audit_record
from controlplane.core.signals import send_on_commit
from controlplane.runs.models import Run
from controlplane.runs.log_lines import store_system_lines
from controlplane.scheduling.signals import run_late
from controlplane.workflows.configs import run_config
from flowyard_spec.config import DEFAULT_START_DEADLINE_SECONDS
from flowyard_spec.states import RunState, TriggerKind

logger = logging.getLogger(__name__)
NOT_STARTED = (RunState.SCHEDULED, RunState.QUEUED, RunState.STARTING)
WAITING_PREFIX = "Waiting to start: "


def start_deadline(run: Run) -> int:
    """The run's own `start-deadline` in seconds: its version's config in its environment (or the default)."""
    return run_config(run).start_deadline or DEFAULT_START_DEADLINE_SECONDS


def late_reason(run: Run, deadline: timedelta) -> str:
    """Why a scheduled run has not started, in words an on-call person can act on."""
    created_late = run.created_at - run.scheduled_for
    if created_late > deadline:
        return (f"created {created_late.total_seconds():.0f} s after its tick: the scheduler was not running or "
                "was overloaded")
    if run.message.startswith(WAITING_PREFIX):
        return run.message.removeprefix(WAITING_PREFIX).rstrip(".")
    if run.state == RunState.STARTING:
        return "the runtime accepted the run but its container has not started the runner yet"
    return "no worker has picked up its launch yet (are the Celery workers running?)"


def mark_late_runs(*, now: datetime | None = None) -> list[Run]:
    """Mark every scheduled run past its start deadline that has not started; return the runs marked."""
    now = now or timezone.now()
    candidates = Run.objects.filter(
        trigger=TriggerKind.SCHEDULE, state__in=NOT_STARTED, late_at__isnull=True, scheduled_for__lt=now,
    ).select_related("deployment__environment__project", "deployment__workflow", "version")
    marked = []
    for run in candidates:
        deadline = timedelta(seconds=start_deadline(run))
        if now - run.scheduled_for <= deadline:
            continue
        reason = late_reason(run, deadline)
        with transaction.atomic():
            if not Run.objects.filter(pk=run.pk, state__in=NOT_STARTED, late_at__isnull=True).update(
                late_at=now, late_reason=reason
            ):
                continue  # started or marked meanwhile
            audit_record(actor=SystemActor("scheduler"), action="run.late", obj=run,
                         after={"late_at": now.isoformat(), "late_reason": reason, "scheduled_for":
                                run.scheduled_for.isoformat()}, project=run.deployment.environment.project)
        store_system_lines(run, [(now, "system", f"Late: not started {deadline.total_seconds():.0f} s after its "
                                                 f"tick {run.scheduled_for.isoformat()}: {reason}.")])
        logger.warning("run %s is late: %s", run.pk, reason)
        marked.append(run)
    return marked

