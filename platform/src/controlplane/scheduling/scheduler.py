"""Firing schedule ticks: exactly one run per deployment and tick, whatever number of schedulers run.

`fire_due_schedules(now=...)` is what the periodic Celery task calls every FLOWYARD_SCHEDULER_SECONDS. For each
deployment whose effective schedule is active it takes the deployment's `ScheduleState` row with
`SELECT ... FOR UPDATE SKIP LOCKED` (a second scheduler skips it instead of waiting), lists the ticks in
(cursor, now + lead], decides by the catch-up policy which of them run, creates those runs and moves the cursor.

The lead (FLOWYARD_SCHEDULE_LEAD_SECONDS) creates a run, and so starts its container, a few seconds before
its tick; the runner waits for the tick (FLOWYARD_NOT_BEFORE) before user code starts, so a minute's burst of
container starts does not make the minute's runs late.

Two guards keep a tick from firing twice: the row lock (serialises schedulers per deployment) and the
`one_run_per_schedule_tick` unique constraint (holds even if the lock is ever bypassed, e.g. on SQLite where
`FOR UPDATE` does not exist and the database lock serialises writers instead).

Every function takes `now`, so tests drive the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from controlplane.core.audit import SystemActor, audit_record
from controlplane.deployments.models import Deployment
from controlplane.runs.errors import NothingDeployed
from controlplane.runs.services import run_trigger
from controlplane.scheduling.models import ScheduleState
from controlplane.scheduling.ticks import MAX_TICKS, EffectiveSchedule, effective_schedule, ticks_between
from flowyard_spec.states import TriggerKind

logger = logging.getLogger(__name__)
SCHEDULER = SystemActor("scheduler")


@dataclass(frozen=True)
class CatchUp:
    """Which due ticks run and which are skipped, by the schedule's catch-up policy."""

    fire: list[datetime]
    skipped: list[datetime]


@dataclass
class TickReport:
    """What one pass of the scheduler did, for logs and tests."""

    created: list[Any] = field(default_factory=list)
    skipped: int = 0
    active: int = 0


def catch_up(due: list[datetime], *, now: datetime, policy: str, cap: int, grace: timedelta) -> CatchUp:
    """Split due ticks (ascending) into those to run and those to skip.

    A tick younger than `grace` is on time (at worst a little late) and always runs. Older ones were missed
    while the scheduler was down: `skip` drops them, `latest` runs the most recent one only when no tick is on
    time, `all` runs the most recent `cap` of them.
    """
    on_time = [tick for tick in due if now - tick <= grace]
    missed = [tick for tick in due if now - tick > grace]
    if policy == "all":
        kept = missed[-cap:] if cap > 0 else []
        return CatchUp(fire=kept + on_time, skipped=missed[: len(missed) - len(kept)])
    if policy == "latest" and missed and not on_time:
        return CatchUp(fire=missed[-1:], skipped=missed[:-1])
    return CatchUp(fire=on_time, skipped=missed)


def fire_due_schedules(*, now: datetime | None = None) -> TickReport:
    """Fire every active schedule's due ticks; reset the cursor of schedules that are not active."""
    now = now or timezone.now()
    report = TickReport()
    active_ids = []
    deployments = Deployment.objects.filter(version__isnull=False).select_related(
        "version", "environment__project", "workflow", "schedule_state"
    )
    for deployment in deployments:
        try:
            schedule = effective_schedule(deployment)
            if not schedule.active:
                continue
            active_ids.append(deployment.pk)
            fire_deployment(deployment, schedule, now=now, report=report)
        except Exception:  # noqa: BLE001 - one broken deployment must not stop every other schedule
            logger.exception("scheduler: could not fire the schedule of deployment %s", deployment.pk)
    report.active = len(active_ids)
    # A schedule that is paused, disabled or undeployed starts again from "now" when it comes back, rather
    # than catching up the ticks of the time it was off on purpose.
    ScheduleState.objects.exclude(deployment_id__in=active_ids).exclude(cursor=None).update(cursor=None)
    return report


def fire_deployment(deployment: Deployment, schedule: EffectiveSchedule, *, now: datetime, report: TickReport) -> None:
    """Fire one deployment's due ticks in one transaction, holding its schedule row.

    Most passes find nothing due: that is decided from the row read with the deployment, without a write or a
    lock. The cursor only moves forward, so a stale read can only make a pass look again, never miss a tick.
    """
    horizon = now + timedelta(seconds=settings.FLOWYARD.schedule_lead_seconds)
    seen = getattr(deployment, "schedule_state", None)  # read with the deployment (select_related)
    if seen is None:
        ScheduleState.objects.get_or_create(deployment=deployment)
    elif seen.cursor is not None:
        upcoming = schedule.next_fire_times(seen.cursor, 1)
        if not upcoming or upcoming[0] > horizon:
            return  # the next tick is beyond the horizon: nothing to do this pass
    with transaction.atomic():
        state = _lock(deployment.pk)
        if state is None:
            return  # another scheduler is on it right now
        if state.cursor is None:
            state.cursor = now  # first sight (or back from a pause): ticks from now on
            state.save(update_fields=["cursor", "updated_at"])
            return
        due = ticks_between(schedule, state.cursor, horizon, limit=MAX_TICKS)
        if not due:
            return
        grace = timedelta(seconds=settings.FLOWYARD.schedule_grace_seconds)
        decision = catch_up(due, now=now, policy=schedule.catch_up, cap=schedule.catch_up_max, grace=grace)
        for tick in decision.fire:
            run = _create_run(deployment, tick)
            if run is not None:
                report.created.append(run.pk)
                state.last_fired_for = tick
        if decision.skipped:
            _record_skip(state, deployment, schedule, decision.skipped, now)
            report.skipped += len(decision.skipped)
        state.cursor = due[-1]
        state.save()


def _lock(deployment_id: Any) -> ScheduleState | None:
    """The deployment's schedule row, locked; None when another transaction holds it (PostgreSQL)."""
    rows = ScheduleState.objects.filter(pk=deployment_id)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return rows.first()


def _create_run(deployment: Deployment, tick: datetime) -> Any:
    """The scheduled run for `tick`, or None when one exists already (another scheduler made it)."""
    try:
        with transaction.atomic():
            return run_trigger(actor=SCHEDULER, deployment=deployment, trigger=TriggerKind.SCHEDULE, scheduled_for=tick)
    except IntegrityError:
        logger.info("scheduler: deployment %s already has its run for %s", deployment.pk, tick.isoformat())
        return None
    except NothingDeployed:
        return None


def _record_skip(
    state: ScheduleState, deployment: Deployment, schedule: EffectiveSchedule, skipped: list[datetime], now: datetime
) -> None:
    """Remember and audit the ticks a catch-up decision skipped, so the policy's effect is visible."""
    state.skipped_total += len(skipped)
    state.last_skip = {
        "policy": schedule.catch_up, "count": len(skipped), "first": skipped[0].isoformat(),
        "last": skipped[-1].isoformat(), "decided_at": now.isoformat(),
    }
    audit_record(actor=SCHEDULER, action="schedule.ticks_skipped", obj=deployment, after=state.last_skip,
                 project=deployment.environment.project)
    logger.warning("scheduler: deployment %s skipped %d missed tick(s) from %s to %s (catch-up %s)",
                   deployment.pk, len(skipped), skipped[0].isoformat(), skipped[-1].isoformat(), schedule.catch_up)
