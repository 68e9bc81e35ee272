"""Backfills with a controllable clock: at most `max_active` runs live, one success per tick, reprocess rules, cancel."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from controlplane.core.errors import FlowyardError, ValidationFailed
from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment
from controlplane.runs import lifecycle
from controlplane.runs.errors import NothingDeployed
from controlplane.runs.models import Run
from controlplane.runs.services import run_trigger
from controlplane.scheduling.backfills import (
    backfill_blocked_reason,
    backfill_cancel,
    backfill_create,
    backfill_dispatch,
    backfill_progress,
    dispatch_backfills,
)
from controlplane.scheduling.models import Backfill
from flowyard_testkit.registration import register_version
from flowyard_spec.states import ACTIVE_RUN_STATES, RunReason, RunState, TriggerKind
from flowyard_testkit.tenants import digest

S = RunState
START = datetime(2026, 3, 1, tzinfo=UTC)
TICKS = [START + timedelta(hours=hour) for hour in range(7)]  # seven hourly ticks, 00:00 to 06:00
NOW = datetime(2026, 3, 2, tzinfo=UTC)
CONFIG = {"name": "etl", "schedule": "cron(0 * * * ? *)", "schedule-enabled": False, "retries": 1,
          "parameters": {"day": "{{ scheduled_date }}", "limit": 10}}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        """The current time, one minute later than the last call."""
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def hourly(tenant_a) -> Deployment:
    """Tenant A's test deployment running a version with an hourly (disabled) schedule and one retry."""
    version = register_version(
        workflow=tenant_a.workflow, image_digest=digest("hourly"), image_ref="127.0.0.1:5000/etl:hourly",
        config=CONFIG,
    )
    return deployments.deployment_set(actor=tenant_a.users["developer"], workflow=tenant_a.workflow,
                                      environment=tenant_a.test_env, version=version)


@pytest.fixture
def developer(tenant_a):
    """A developer of tenant A's project."""
    return tenant_a.users["developer"]


def live(backfill: Backfill) -> list[Run]:
    """The backfill's runs that have not ended (retries included)."""
    return list(Run.objects.filter(backfill=backfill, state__in=[s.value for s in ACTIVE_RUN_STATES])
                .order_by("scheduled_for", "attempt"))


def end(run: Run, state: RunState, reason: RunReason | None = None, *, via: tuple[RunState, ...] = (S.STARTING, S.RUNNING)):
    """Walk a run through `via` and end it as `state` in one transaction, like the reconciler or the runner."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        for step in via:
            lifecycle.transition(run, step)
        lifecycle.transition(run, state, reason=reason)
        run.save()
    return run


@pytest.fixture
def finish(django_capture_on_commit_callbacks):
    """`finish(run, state, reason, retry_now=True)`: end a run and let what follows its commit happen (its retry).

    With retry_now=False the after-commit work is returned instead, to run later: a dispatch can come in between.
    """
    def call(run, state, reason=None, *, via=(S.STARTING, S.RUNNING), retry_now=True):
        with django_capture_on_commit_callbacks(execute=retry_now) as callbacks:
            end(run, state, reason, via=via)
        return callbacks
    return call


def ticks_with_success(backfill: Backfill) -> dict[datetime, int]:
    """For each tick, how many of the backfill's runs succeeded."""
    counts = {tick: 0 for tick in TICKS}
    for run in Run.objects.filter(backfill=backfill, state=S.SUCCEEDED):
        counts[run.scheduled_for] += 1
    return counts


def test_with_max_active_2_never_more_than_2_runs_are_live_and_each_tick_succeeds_once(hourly, developer, finish):
    clock = Clock(NOW)
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[-1], max_active=2, now=clock())
    assert backfill.ticks == [tick.isoformat() for tick in TICKS]
    # First attempts end in this order of outcomes; retries always succeed. Which live run ends next alternates
    # between the newest and the oldest, and some end straight from QUEUED.
    outcomes = itertools.cycle([
        (S.SUCCEEDED, None, (S.STARTING, S.RUNNING), True),
        (S.FAILED, RunReason.USER_ERROR, (S.STARTING, S.RUNNING), True),
        (S.CRASHED, RunReason.WORKER_LOST, (), True),
        (S.SUCCEEDED, None, (S.RUNNING,), True),
        (S.CRASHED, RunReason.HEARTBEAT_LOST, (S.STARTING,), False),  # a dispatch comes before its retry exists
        (S.TIMED_OUT, RunReason.TIMEOUT, (S.STARTING, S.RUNNING), True),
    ])
    steps = 0
    while Backfill.objects.get(pk=backfill.pk).state == "RUNNING":
        steps += 1
        assert steps < 60, "the backfill should have completed"
        backfill_dispatch(backfill.pk, now=clock())
        running = live(backfill)
        assert len(running) <= 2, f"step {steps}: {len(running)} live runs"
        if not running:
            continue
        run = running[-1] if steps % 2 else running[0]
        state, reason, via, retry_now = next(outcomes) if run.attempt == 1 else (S.SUCCEEDED, None, (S.RUNNING,), True)
        pending = finish(run, state, reason, via=via, retry_now=retry_now)
        backfill_dispatch(backfill.pk, now=clock())  # the slot of a run whose retry is due stays taken
        assert len(live(backfill)) <= 2, f"step {steps}: a new run took the slot of a retry that was due"
        for callback in pending if not retry_now else ():
            callback()
        assert len(live(backfill)) <= 2, f"step {steps}: the retry made it more than 2"
    backfill.refresh_from_db()
    assert backfill.state == "COMPLETED" and backfill.ended_at is not None
    assert ticks_with_success(backfill) == {tick: 1 for tick in TICKS}
    assert Run.objects.filter(backfill=backfill, retry_of__isnull=True).count() == 7, "one first attempt per tick"
    assert Run.objects.filter(backfill=backfill, retry_of__isnull=False).exists(), "some ticks needed a retry"
    first = Run.objects.filter(backfill=backfill).order_by("scheduled_for", "attempt").first()
    assert (first.trigger, first.parameters["day"]) == (TriggerKind.BACKFILL, "2026-03-01")
    assert first.triggered_by_label == f"backfill:{backfill.pk}"
    progress = backfill_progress(backfill)
    assert (progress["total_ticks"], progress["handled_ticks"], progress["succeeded_ticks"]) == (7, 7, 7)
    assert (progress["live_runs"], progress["failed_ticks"], progress["skipped_ticks"]) == (0, 0, 0)


def test_runs_start_only_as_earlier_ones_end(hourly, developer, finish):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[-1], max_active=3, now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)  # a second dispatch with nothing ended changes nothing
    assert [run.scheduled_for for run in live(backfill)] == TICKS[:3]
    finish(live(backfill)[1], S.SUCCEEDED)
    assert dispatch_backfills(now=NOW) == 1
    assert [run.scheduled_for for run in live(backfill)] == [TICKS[0], TICKS[2], TICKS[3]]


def previous_run(deployment, tick, state, finish, trigger=TriggerKind.SCHEDULE):
    """A run of `deployment` for `tick` from before the backfill, ended as `state` (or left QUEUED)."""
    run = run_trigger(actor=None, deployment=deployment, trigger=trigger, scheduled_for=tick)
    if state == S.SUCCEEDED:
        finish(run, S.SUCCEEDED)
    elif state == S.FAILED:
        finish(run, S.FAILED, RunReason.IMAGE_ERROR)  # not retried
    return run


@pytest.mark.parametrize(("reprocess", "runs_again"), [
    ("none", []),
    ("failed", [1]),
    ("all", [0, 1]),
])
def test_reprocess_decides_which_ticks_with_a_run_are_run_again(hourly, developer, finish, reprocess, runs_again):
    previous_run(hourly, TICKS[0], S.SUCCEEDED, finish)
    previous_run(hourly, TICKS[1], S.FAILED, finish, trigger=TriggerKind.MANUAL)
    previous_run(hourly, TICKS[2], S.QUEUED, finish)  # still live: no mode runs it twice at once
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[3], max_active=5,
                               reprocess=reprocess, now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    backfill.refresh_from_db()
    expected = [TICKS[i] for i in runs_again] + [TICKS[3]]
    assert sorted(run.scheduled_for for run in backfill.runs.all()) == expected
    assert backfill.skipped_ticks == 4 - len(expected)
    assert backfill_progress(backfill)["skipped_ticks"] == 4 - len(expected)


def test_cancel_stops_the_backfill_as_a_whole(hourly, developer, finish):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[-1], max_active=3, now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    queued, started, running = live(backfill)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=running.pk)
        lifecycle.transition(run, S.RUNNING)
        run.save()
    backfill = backfill_cancel(actor=developer, backfill=backfill)
    assert backfill.state == "CANCELLED"
    states = {run.scheduled_for: run.state for run in backfill.runs.all()}
    assert states == {TICKS[0]: "CANCELLED", TICKS[1]: "CANCELLED", TICKS[2]: "CANCELLING"}
    assert backfill_cancel(actor=developer, backfill=backfill).state == "CANCELLED", "cancelling twice is a no-op"
    # The runtime stops the container, but the runner crashed meanwhile: its retry must not live on.
    finish(Run.objects.get(pk=running.pk), S.CRASHED, RunReason.WORKER_LOST, via=())
    assert live(backfill) == [], "a crashed run of a cancelled backfill is not retried"
    dispatch_backfills(now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    assert live(backfill) == []
    assert backfill.runs.count() == 3, "no new tick was started after the cancel"
    assert set(backfill.runs.values_list("scheduled_for", flat=True)) == set(TICKS[:3])
    assert AuditEvent.objects.filter(action="backfill.cancelled", object_id=str(backfill.pk)).count() == 1


def test_a_completed_backfill_cannot_be_cancelled(hourly, developer, finish):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[0], now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    finish(live(backfill)[0], S.SUCCEEDED)
    assert backfill_dispatch(backfill.pk, now=NOW).state == "COMPLETED"
    with pytest.raises(FlowyardError) as refused:
        backfill_cancel(actor=developer, backfill=backfill)
    assert refused.value.http_status == 409 and "completed" in refused.value.message


def test_a_second_dispatch_in_a_row_creates_no_duplicate(hourly, developer):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[-1], max_active=2, now=NOW)
    for _ in range(3):
        backfill_dispatch(backfill.pk, now=NOW)
    assert backfill.runs.count() == 2
    # Even a dispatcher that lost track (next_index behind) cannot make a second run for a tick.
    Backfill.objects.filter(pk=backfill.pk).update(next_index=0, max_active=3)
    backfill_dispatch(backfill.pk, now=NOW)
    ticks = list(backfill.runs.values_list("scheduled_for", flat=True))
    assert len(ticks) == len(set(ticks))


def test_each_run_uses_the_version_deployed_when_it_is_created(hourly, developer, tenant_a, finish):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[1], now=NOW)
    backfill_dispatch(backfill.pk, now=NOW)
    first_version = hourly.version_id
    newer = register_version(workflow=tenant_a.workflow, image_digest=digest("hourly-2"),
                                         image_ref="127.0.0.1:5000/etl:hourly-2", config=CONFIG)
    deployments.deployment_set(actor=developer, workflow=tenant_a.workflow, environment=tenant_a.test_env, version=newer)
    finish(live(backfill)[0], S.SUCCEEDED)
    backfill_dispatch(backfill.pk, now=NOW)
    versions = [run.version_id for run in backfill.runs.order_by("scheduled_for")]
    assert versions == [first_version, newer.pk]


def test_a_backfill_that_cannot_create_its_next_run_says_why(hourly, developer):
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[1], now=NOW)
    Deployment.objects.filter(pk=hourly.pk).update(version=None)
    backfill_dispatch(backfill.pk, now=NOW)
    backfill.refresh_from_db()
    assert backfill.runs.count() == 0 and backfill.state == "RUNNING" and backfill.next_index == 0
    assert "Nothing is deployed" in backfill_blocked_reason(backfill)


def test_a_disabled_or_paused_schedule_can_be_backfilled(hourly, developer):
    Deployment.objects.filter(pk=hourly.pk).update(is_paused=True)
    hourly.refresh_from_db()
    backfill = backfill_create(actor=developer, deployment=hourly, start=TICKS[0], end=TICKS[2], now=NOW)
    assert len(backfill.ticks) == 3
    event = AuditEvent.objects.get(action="backfill.created", object_id=str(backfill.pk))
    assert event.actor == developer


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"start": TICKS[2], "end": TICKS[1]}, "end", "before start"),
    ({"end": NOW + timedelta(hours=1)}, "end", "in the future"),
    ({"start": START + timedelta(minutes=10), "end": START + timedelta(minutes=50)}, "start", "No tick"),
    ({"start": START - timedelta(days=60)}, "end", "holds 1447 ticks"),
    ({"max_active": 0}, "max_active", "between 1 and 50"),
    ({"max_active": 51}, "max_active", "between 1 and 50"),
    ({"reprocess": "some"}, "reprocess", "none, failed, all"),
    ({"parameters": {"colour": "blue"}}, "parameters", "colour"),
])
def test_invalid_backfills_are_refused_naming_the_field_and_nothing_is_stored(hourly, developer, change, field, words):
    arguments = {"start": TICKS[0], "end": TICKS[-1], "now": NOW} | change
    stored = Backfill.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        backfill_create(actor=developer, deployment=hourly, **arguments)
    assert field in refused.value.extra["fields"]
    assert words in refused.value.message
    assert Backfill.objects.count() == stored


def test_a_deployment_without_a_schedule_or_a_version_is_refused(tenant_a, developer):
    plain = register_version(workflow=tenant_a.report, image_digest=digest("plain"),
                                         image_ref="127.0.0.1:5000/report:plain", config={"name": "report"})
    deployment = deployments.deployment_set(actor=developer, workflow=tenant_a.report, environment=tenant_a.test_env,
                                            version=plain)
    with pytest.raises(ValidationFailed) as refused:
        backfill_create(actor=developer, deployment=deployment, start=TICKS[0], end=TICKS[-1], now=NOW)
    assert "has no schedule" in refused.value.extra["fields"]["deployment"][0]
    Deployment.objects.filter(pk=deployment.pk).update(version=None)
    deployment.refresh_from_db()
    with pytest.raises(NothingDeployed):
        backfill_create(actor=developer, deployment=deployment, start=TICKS[0], end=TICKS[-1], now=NOW)
