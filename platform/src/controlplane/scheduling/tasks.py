"""Celery tasks of the scheduler: one periodic pass fires due ticks, dispatches backfills and marks late runs."""

from __future__ import annotations

import logging

from celery import shared_task

from controlplane.scheduling.backfills import dispatch_backfills
from controlplane.scheduling.late import mark_late_runs
from controlplane.scheduling.scheduler import fire_due_schedules

logger = logging.getLogger(__name__)


@shared_task(name="controlplane.scheduling.tasks.scheduler_tick")
def scheduler_tick() -> dict[str, int]:
    """One scheduler pass (Celery beat sends it every FLOWYARD_SCHEDULER_SECONDS; any number may run at once)."""
    report = fire_due_schedules()
    backfill_runs = dispatch_backfills()
    late = mark_late_runs()
    return {"created": len(report.created), "skipped": report.skipped, "backfill_runs": backfill_runs,
            "late": len(late)}
