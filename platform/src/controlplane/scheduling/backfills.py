"""Backfills: one run per schedule tick of a past range, at most `max_active` live at a time.

Runs are created lazily by `backfill_dispatch`: at creation, and then by the scheduler's periodic task
(`dispatch_backfills`) as earlier runs end. Each run uses the version deployed when it is created.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from controlplane.core.audit import SystemActor, actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment
from controlplane.runs.errors import NothingDeployed, TransitionRefused
from controlplane.runs.models import Run
from controlplane.runs.retries import retry_budget
from controlplane.runs.services import declared_parameters, resolve_parameters, run_cancel, run_trigger
from controlplane.scheduling.errors import BackfillEnded
from controlplane.scheduling.models import Backfill, BackfillState, Reprocess
from controlplane.scheduling.ticks import MAX_TICKS, effective_schedule, ticks_between
from controlplane.tenancy.selectors import project_list
from flowyard_spec.schedules import as_utc
from flowyard_spec.states import ACTIVE_RUN_STATES, RunState, TriggerKind

logger = logging.getLogger(__name__)

MAX_BACKFILL_TICKS = 1000
MAX_ACTIVE_LIMIT = 50
# A backfill run that ended with a retry due holds its slot this long while the retry is being queued
# (the retry is created right after the end commits; if that never happens, the slot frees after this).
RETRY_GRACE = timedelta(seconds=30)
LIVE_STATES = [state.value for state in ACTIVE_RUN_STATES]


# -- reads ---------------------------------------------------------------------------------------------------

def backfill_list(*, user: Any) -> QuerySet[Backfill]:
    """Backfills of the projects the user can see, newest first."""
    return Backfill.objects.filter(deployment__environment__project__in=project_list(user=user)).select_related(
        "deployment__workflow", "deployment__environment__project", "deployment__version"
    )


def tick_key(moment: datetime) -> str:
    """A tick as stored in `Backfill.ticks`: ISO 8601 in UTC."""
    return as_utc(moment).isoformat()


def backfill_progress(backfill: Backfill) -> dict[str, Any]:
    """How far a backfill is: ticks handled and skipped, its runs by state, and the ticks that succeeded or failed."""
    by_state: Counter[str] = Counter()
    tick_states: dict[datetime, set[str]] = {}
    rows = Run.objects.filter(backfill=backfill).values("state", "scheduled_for").annotate(n=Count("id"))
    for row in rows:
        by_state[row["state"]] += row["n"]
        tick_states.setdefault(row["scheduled_for"], set()).add(row["state"])
    succeeded = sum(1 for states in tick_states.values() if RunState.SUCCEEDED in states)
    live_ticks = {tick for tick, states in tick_states.items() if states & set(LIVE_STATES)}
    failed = sum(1 for tick, states in tick_states.items()
                 if RunState.SUCCEEDED not in states and tick not in live_ticks)
    total = len(backfill.ticks)
    return {
        "total_ticks": total,
        "handled_ticks": backfill.next_index,
        "remaining_ticks": total - backfill.next_index,
        "skipped_ticks": backfill.skipped_ticks,
        "runs_by_state": dict(sorted(by_state.items())),
        "live_runs": sum(by_state[state] for state in LIVE_STATES),
        "succeeded_ticks": succeeded,
        "failed_ticks": failed,
    }


def backfill_blocked_reason(backfill: Backfill) -> str:
    """Why a RUNNING backfill cannot create its next run ("" when nothing blocks it)."""
    if backfill.state != BackfillState.RUNNING or backfill.next_index >= len(backfill.ticks):
        return ""
    deployment = backfill.deployment
    if deployment.version_id is None:
        return f"Nothing is deployed to {deployment}; deploy a version or cancel the backfill."
    try:
        resolve_parameters(declared_parameters(deployment), backfill.parameters)
    except ValidationFailed as exc:
        return (f"The version now deployed refuses the backfill's parameters ({exc.message}); cancel it and start "
                "a new backfill.")
    return ""


# -- create --------------------------------------------------------------------------------------------------

def _range_ticks(deployment: Deployment, start: datetime, end: datetime) -> list[datetime]:
    """The deployment's schedule ticks in [start, end] (inactive schedules too), or ValidationFailed."""
    schedule = effective_schedule(deployment)
    if schedule.schedule is None:
        raise ValidationFailed({"deployment": [
            f"{deployment} has no schedule, so a backfill has no ticks to run; add `schedule` to the workflow's "
            "config (it may stay disabled with schedule-enabled: false) and deploy that version."]})
    ticks = ticks_between(schedule, start - timedelta(microseconds=1), end, limit=MAX_TICKS)
    if not ticks:
        raise ValidationFailed({"start": [
            f"No tick of {schedule.expression} ({schedule.timezone}) falls between {start.isoformat()} and "
            f"{end.isoformat()}; widen the range."]})
    if len(ticks) > MAX_BACKFILL_TICKS:
        count = f"at least {len(ticks)}" if len(ticks) >= MAX_TICKS else str(len(ticks))
        raise ValidationFailed({"end": [
            f"The range holds {count} ticks of {schedule.expression}; a backfill takes at most {MAX_BACKFILL_TICKS}. "
            f"Narrow the range, e.g. end at {ticks[MAX_BACKFILL_TICKS - 1].isoformat()}, and backfill the rest "
            "in a second backfill."]})
    return ticks


@transaction.atomic
def backfill_create(
    *, actor: Any, deployment: Deployment, start: datetime, end: datetime, max_active: int = 1,
    reprocess: str = Reprocess.NONE, parameters: dict[str, Any] | None = None, now: datetime | None = None,
) -> Backfill:
    """Start a backfill of `deployment` for the schedule's ticks in [start, end]; its first runs start on commit."""
    now = as_utc(now or timezone.now())
    start, end = as_utc(start), as_utc(end)
    parameters = dict(parameters or {})
    if not 1 <= max_active <= MAX_ACTIVE_LIMIT:
        raise ValidationFailed({"max_active": [f"Must be between 1 and {MAX_ACTIVE_LIMIT}; got {max_active}."]})
    if reprocess not in Reprocess.values:
        raise ValidationFailed({"reprocess": [f"Must be one of {', '.join(Reprocess.values)}; got {reprocess!r}."]})
    if end < start:
        raise ValidationFailed({"end": [f"{end.isoformat()} is before start {start.isoformat()}."]})
    if end > now:
        raise ValidationFailed({"end": [
            f"{end.isoformat()} is in the future (now is {now.isoformat()}); a backfill covers past ticks only, "
            "the schedule runs the future ones."]})
    if deployment.version is None:
        raise NothingDeployed(f"Nothing is deployed to {deployment}; deploy a version before backfilling.",
                              code="nothing_deployed")
    ticks = _range_ticks(deployment, start, end)
    resolve_parameters(declared_parameters(deployment), parameters)  # unknown names: 400 before anything is stored
    user, label = actor_user_and_label(actor)
    backfill = Backfill.objects.create(
        deployment=deployment, start=start, end=end, ticks=[tick_key(tick) for tick in ticks], max_active=max_active,
        reprocess=reprocess, parameters=parameters, created_by=user, created_by_label=label,
    )
    audit_record(actor=actor, action="backfill.created", obj=backfill, after=snapshot(backfill),
                 project=deployment.environment.project)
    backfill_id = backfill.pk
    transaction.on_commit(lambda: _dispatch_quietly(backfill_id))
    return backfill


def _dispatch_quietly(backfill_id: Any) -> None:
    try:
        backfill_dispatch(backfill_id)
    except Exception:  # noqa: BLE001 - the backfill is stored; the periodic dispatch picks it up
        logger.exception("backfill %s: the first dispatch failed; the scheduler will retry it", backfill_id)


# -- dispatch ------------------------------------------------------------------------------------------------

def _retry_pending(run: Run, now: datetime) -> bool:
    """True for a run that just ended with a retry due that is not created yet: the retry will take its slot."""
    return (run.ended_at is not None and run.ended_at >= now - RETRY_GRACE and not run.retries.exists()
            and retry_budget(run) is not None)


def _in_flight(runs: QuerySet[Run], now: datetime) -> int:
    """How many of `runs` are live or about to be replaced by their retry."""
    rows = list(runs.filter(state__in=LIVE_STATES + [RunState.FAILED, RunState.TIMED_OUT, RunState.CRASHED])
                .select_related("version", "deployment__environment"))
    live = sum(1 for run in rows if run.state in LIVE_STATES)
    ended = [run for run in rows if run.state not in LIVE_STATES and run.ended_at and run.ended_at >= now - RETRY_GRACE]
    return live + sum(1 for run in ended if _retry_pending(run, now))


def _skip(backfill: Backfill, tick: datetime, now: datetime) -> bool:
    """Whether `reprocess` says to leave this tick alone, given the deployment's runs for it."""
    runs = Run.objects.filter(deployment_id=backfill.deployment_id, scheduled_for=tick)
    if backfill.reprocess == Reprocess.NONE:
        return runs.exists()
    if backfill.reprocess == Reprocess.FAILED and runs.filter(state=RunState.SUCCEEDED).exists():
        return True
    return _in_flight(runs, now) > 0


def backfill_dispatch(backfill_id: Any, *, now: datetime | None = None) -> Backfill:
    """Create the backfill's next runs while fewer than `max_active` are live; complete it when all have ended.

    Safe to call from any number of processes at once: the backfill row is locked, and the
    one_run_per_backfill_tick constraint refuses a second run for a tick.
    """
    return _dispatch(backfill_id, as_utc(now or timezone.now()))[0]


def _dispatch(backfill_id: Any, now: datetime) -> tuple[Backfill, int]:
    """`backfill_dispatch`, also returning how many runs it created."""
    created = 0
    with transaction.atomic():
        backfill = Backfill.objects.select_for_update().get(pk=backfill_id)
        if backfill.state != BackfillState.RUNNING:
            return backfill, 0
        deployment = Deployment.objects.select_related("version", "environment__project", "workflow").get(
            pk=backfill.deployment_id)
        backfill.deployment = deployment
        actor = SystemActor(f"backfill:{backfill.pk}")
        before = (backfill.next_index, backfill.skipped_ticks)
        in_flight = _in_flight(backfill.runs.all(), now)
        while in_flight < backfill.max_active and backfill.next_index < len(backfill.ticks):
            tick = datetime.fromisoformat(backfill.ticks[backfill.next_index])
            if _skip(backfill, tick, now):
                backfill.skipped_ticks += 1
                backfill.next_index += 1
                continue
            try:
                with transaction.atomic():
                    run_trigger(actor=actor, deployment=deployment, parameters=backfill.parameters,
                                trigger=TriggerKind.BACKFILL, scheduled_for=tick, backfill=backfill)
            except IntegrityError:  # another dispatcher created this tick's run first: it is handled
                logger.info("backfill %s: tick %s already has its run", backfill.pk, tick.isoformat())
                in_flight = _in_flight(backfill.runs.all(), now)
            except (NothingDeployed, ValidationFailed) as exc:  # shown as `blocked_reason`; tried again next time
                logger.warning("backfill %s: cannot create the run for %s: %s", backfill.pk, tick.isoformat(), exc)
                break
            else:
                in_flight += 1
                created += 1
            backfill.next_index += 1
        if (backfill.next_index, backfill.skipped_ticks) != before:
            backfill.save(update_fields=["next_index", "skipped_ticks", "updated_at"])
        if backfill.next_index >= len(backfill.ticks) and _in_flight(backfill.runs.all(), now) == 0:
            previous = snapshot(backfill)
            backfill.state = BackfillState.COMPLETED
            backfill.ended_at = now
            backfill.save(update_fields=["state", "ended_at", "updated_at"])
            audit_record(actor=actor, action="backfill.completed", obj=backfill, before=previous,
                         after=snapshot(backfill), project=deployment.environment.project)
    return backfill, created


def dispatch_backfills(*, now: datetime | None = None) -> int:
    """Dispatch every RUNNING backfill; returns the runs created."""
    now = as_utc(now or timezone.now())
    created = 0
    for backfill_id in list(Backfill.objects.filter(state=BackfillState.RUNNING).values_list("pk", flat=True)):
        try:
            created += _dispatch(backfill_id, now)[1]
        except Exception:  # noqa: BLE001 - one broken backfill must not stop the others
            logger.exception("backfill %s: dispatch failed", backfill_id)
    return created


# -- cancel --------------------------------------------------------------------------------------------------

def _cancel_run(actor: Any, run: Run) -> None:
    """Cancel one of the backfill's live runs; one that ended meanwhile is left alone."""
    try:
        run_cancel(actor=actor, run=run)
    except TransitionRefused:  # it ended meanwhile
        pass


@transaction.atomic
def backfill_cancel(*, actor: Any, backfill: Backfill) -> Backfill:
    """Cancel a backfill as a whole: no new run, and every live run of it cancelled. Cancelling twice is a no-op."""
    backfill = Backfill.objects.select_for_update().select_related("deployment__environment__project").get(pk=backfill.pk)
    if backfill.state == BackfillState.CANCELLED:
        return backfill
    if backfill.state == BackfillState.COMPLETED:
        raise BackfillEnded(f"Backfill {backfill.pk} already completed; there is nothing to cancel.",
                            extra={"state": backfill.state})
    previous = snapshot(backfill)
    backfill.state = BackfillState.CANCELLED
    backfill.ended_at = timezone.now()
    backfill.save(update_fields=["state", "ended_at", "updated_at"])
    audit_record(actor=actor, action="backfill.cancelled", obj=backfill, before=previous, after=snapshot(backfill),
                 project=backfill.deployment.environment.project)
    for run in backfill.runs.filter(state__in=LIVE_STATES).exclude(state=RunState.CANCELLING):
        _cancel_run(actor, run)
    return backfill
