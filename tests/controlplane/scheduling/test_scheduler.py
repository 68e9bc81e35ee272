"""The scheduler, driven by a controllable clock: one run per tick, catch-up policies after downtime,
schedules on only where they should be, and daylight-saving nights neither skipped nor doubled."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.runs.models import Run
from controlplane.scheduling.models import ScheduleState
from controlplane.scheduling.scheduler import fire_due_schedules
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import build_tenant, digest

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)  # a Monday, on the hour


@pytest.fixture
def tenant():
    """A team with test and production environments."""
    return build_tenant("sched")


def deploy(tenant, environment: str = "production", *, name: str = "hourly", **config):
    """Register a version of workflow `name` with `config` and deploy it to `environment`; the deployment."""
    workflow = workflows.workflow_create(actor=None, project=tenant.project, name=name)
    version = register_version(
        workflow=workflow, image_ref=f"127.0.0.1:5000/sched/{name}:1", image_digest=digest(name),
        config={"name": name, "schedule-enabled": True, "schedule": "cron(0 * * * ? *)", **config},
    )
    env = tenant.production_env if environment == "production" else tenant.test_env
    return deployments.deployment_set(actor=None, workflow=workflow, environment=env, version=version)


def scheduled_runs(deployment) -> list[Run]:
    """The deployment's scheduled runs, oldest tick first."""
    return list(Run.objects.filter(deployment=deployment, trigger="schedule").order_by("scheduled_for"))


def ticks_of(deployment) -> list[str]:
    """The ticks the deployment's scheduled runs are for, as HH:MM UTC."""
    return [run.scheduled_for.strftime("%H:%M") for run in scheduled_runs(deployment)]


def test_a_due_tick_creates_exactly_one_run_for_that_tick(tenant):
    deployment = deploy(tenant, parameters={"date": "{{ scheduled_date }}", "at": "{{ scheduled_time }}", "n": 1})
    fire_due_schedules(now=T0 + timedelta(seconds=5))  # first sight: the schedule starts from now
    assert scheduled_runs(deployment) == []

    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=1))

    [run] = scheduled_runs(deployment)
    assert run.scheduled_for == T0 + timedelta(hours=1)
    assert run.state == "QUEUED" and run.version == deployment.version
    assert run.parameters == {"date": "2026-11-02", "at": "2026-11-02T11:00:00+00:00", "n": 1}
    assert run.triggered_by_label == "scheduler"


def test_passing_the_same_moment_again_or_many_times_creates_no_second_run(tenant):
    deployment = deploy(tenant)
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    for _ in range(3):
        fire_due_schedules(now=T0 + timedelta(hours=1, seconds=2))
    assert ticks_of(deployment) == ["11:00"]


def test_a_scheduler_with_a_stale_cursor_finds_the_tick_taken_and_creates_nothing(tenant):
    deployment = deploy(tenant)
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=1))
    # Another scheduler that read the cursor before the first one moved it sees the same tick as due.
    ScheduleState.objects.filter(deployment=deployment).update(cursor=T0 + timedelta(seconds=1))

    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=3))

    assert ticks_of(deployment) == ["11:00"]
    assert ScheduleState.objects.get(deployment=deployment).cursor == T0 + timedelta(hours=1)


def test_a_late_but_recent_tick_still_fires(tenant):
    deployment = deploy(tenant)
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=45))  # within the 60 s grace
    assert ticks_of(deployment) == ["11:00"]


OUTAGE_END = T0 + timedelta(hours=5, minutes=30)  # ticks 11:00 … 15:00 were missed, none is recent


@pytest.mark.parametrize(
    ("policy", "expected_ticks", "expected_skipped"),
    [
        ({}, [], 5),
        ({"catch-up": "skip"}, [], 5),
        ({"catch-up": "latest"}, ["15:00"], 4),
        ({"catch-up": "all"}, ["11:00", "12:00", "13:00", "14:00", "15:00"], 0),
        ({"catch-up": "all", "catch-up-max": 3}, ["13:00", "14:00", "15:00"], 2),
    ],
    ids=["default-skip", "skip", "latest", "all", "all-capped-at-3"],
)
def test_ticks_missed_during_an_outage_follow_the_catch_up_policy(tenant, policy, expected_ticks, expected_skipped):
    deployment = deploy(tenant, **policy)
    fire_due_schedules(now=T0 + timedelta(seconds=1))

    fire_due_schedules(now=OUTAGE_END)  # the scheduler comes back after five and a half hours

    assert ticks_of(deployment) == expected_ticks
    state = ScheduleState.objects.get(deployment=deployment)
    assert state.skipped_total == expected_skipped
    if expected_skipped:
        assert state.last_skip["count"] == expected_skipped
        assert state.last_skip["policy"] == policy.get("catch-up", "skip")
        event = AuditEvent.objects.get(action="schedule.ticks_skipped", object_id=str(deployment.pk))
        assert event.after["first"] == "2026-11-02T11:00:00+00:00"
    else:
        assert not AuditEvent.objects.filter(action="schedule.ticks_skipped").exists()
    # After catching up, the schedule carries on normally.
    fire_due_schedules(now=T0 + timedelta(hours=6, seconds=2))
    assert ticks_of(deployment)[-1] == "16:00"


def test_an_outage_with_a_recent_tick_runs_that_tick_and_skips_the_older_ones(tenant):
    deployment = deploy(tenant, schedule="rate(1 minute)")
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    # Back 20 s after the 10:10 tick: the next tick (10:11) is 40 s away, beyond the 30 s lead.
    fire_due_schedules(now=T0 + timedelta(minutes=10, seconds=20))
    assert ticks_of(deployment) == ["10:10"]
    assert ScheduleState.objects.get(deployment=deployment).skipped_total == 9


def test_a_test_environment_schedule_is_off_unless_the_test_override_turns_it_on(tenant):
    plain = deploy(tenant, "test", name="plain")
    turned_on = deploy(tenant, "test", name="turned-on", environments={"test": {"schedule-enabled": True}})
    for now in (T0 + timedelta(seconds=1), T0 + timedelta(hours=1, seconds=1)):
        fire_due_schedules(now=now)
    assert ticks_of(plain) == []
    assert ticks_of(turned_on) == ["11:00"]


def test_production_schedules_start_only_once_a_version_is_deployed_there(tenant):
    workflow = workflows.workflow_create(actor=None, project=tenant.project, name="later")
    version = register_version(
        workflow=workflow, image_ref="127.0.0.1:5000/sched/later:1", image_digest=digest("later"),
        config={"name": "later", "schedule-enabled": True, "schedule": "cron(0 * * * ? *)"},
    )
    deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.test_env, version=version)
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=1))
    assert not Run.objects.filter(deployment__workflow=workflow).exists()

    production = deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.production_env,
                                            version=version)
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=2))
    fire_due_schedules(now=T0 + timedelta(hours=2, seconds=1))
    assert ticks_of(production) == ["12:00"]


def test_a_disabled_schedule_creates_no_run(tenant):
    deployment = deploy(tenant, **{"schedule-enabled": False})
    for now in (T0 + timedelta(seconds=1), T0 + timedelta(hours=1, seconds=1)):
        fire_due_schedules(now=now)
    assert ticks_of(deployment) == []


def test_a_paused_schedule_fires_nothing_and_resuming_does_not_replay_the_paused_hours(tenant):
    deployment = deploy(tenant, **{"catch-up": "all"})
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    deployments.deployment_update(actor=None, deployment=deployment, is_paused=True)
    for hour in (1, 2, 3):
        fire_due_schedules(now=T0 + timedelta(hours=hour, seconds=1))
    assert ticks_of(deployment) == []

    deployments.deployment_update(actor=None, deployment=deployment, is_paused=False)
    fire_due_schedules(now=T0 + timedelta(hours=3, minutes=5))
    fire_due_schedules(now=T0 + timedelta(hours=4, seconds=1))
    assert ticks_of(deployment) == ["14:00"]


def test_one_broken_deployment_does_not_stop_the_others(tenant):
    good = deploy(tenant, name="good")
    broken = deploy(tenant, name="broken", parameters={"x": 1})
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    # A version whose stored config no longer validates (e.g. written by an older release).
    broken.version.__class__.objects.filter(pk=broken.version_id).update(
        config={"name": "broken", "memory": -1}, config_hash="written-by-an-older-release")
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=1))
    assert ticks_of(good) == ["11:00"]
    assert ticks_of(broken) == []


@pytest.mark.parametrize(
    ("expression", "tz", "start", "days", "local_time"),
    [
        ("cron(30 2 * * ? *)", "Europe/Paris", datetime(2026, 3, 27, tzinfo=UTC), 4, "02:30"),
        ("30 2 * * *", "Europe/Paris", datetime(2026, 10, 23, tzinfo=UTC), 4, "02:30"),
        ("cron(30 1 * * ? *)", "America/New_York", datetime(2026, 10, 30, 4, tzinfo=UTC), 4, "01:30"),
        ("30 2 * * *", "America/New_York", datetime(2026, 3, 6, 5, tzinfo=UTC), 4, "02:30"),
    ],
    ids=["paris-spring-aws", "paris-autumn-5field", "new-york-autumn-aws", "new-york-spring-5field"],
)
def test_a_daily_schedule_fires_once_a_day_across_a_daylight_saving_change(tenant, expression, tz, start, days,
                                                                           local_time):
    deployment = deploy(tenant, schedule=expression, timezone=tz)
    clock = start
    while clock <= start + timedelta(days=days):  # the scheduler passing every 10 minutes for four days
        fire_due_schedules(now=clock)
        clock += timedelta(minutes=10)

    runs = scheduled_runs(deployment)
    local_days = [run.scheduled_for.astimezone(ZoneInfo(tz)).date() for run in runs]
    assert len(local_days) == len(set(local_days)) == days, [run.scheduled_for for run in runs]
    wall_times = {run.scheduled_for.astimezone(ZoneInfo(tz)).strftime("%H:%M") for run in runs}
    # On a spring-forward night the missing 02:30 becomes 03:30; every other day keeps its wall time.
    assert wall_times <= {local_time, "03:30"}
    assert ScheduleState.objects.get(deployment=deployment).skipped_total == 0


def test_a_run_is_created_a_few_seconds_ahead_of_its_tick_and_its_runner_told_to_wait(tenant, settings):
    from django.utils import timezone as django_timezone

    from controlplane.runs.launcher import launch_spec

    deployment = deploy(tenant)
    fire_due_schedules(now=T0 + timedelta(seconds=1))
    lead = settings.FLOWYARD.schedule_lead_seconds
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=-lead - 1))
    assert ticks_of(deployment) == []
    fire_due_schedules(now=T0 + timedelta(hours=1, seconds=-lead + 1))
    [run] = scheduled_runs(deployment)
    assert run.scheduled_for == T0 + timedelta(hours=1)

    # Launched now, a run whose tick is still ahead waits for it; one whose tick has passed starts at once.
    run.scheduled_for = django_timezone.now() + timedelta(seconds=5)
    assert launch_spec(run, "token", {}).environment["FLOWYARD_NOT_BEFORE"] == run.scheduled_for.isoformat()
    run.scheduled_for = django_timezone.now() - timedelta(seconds=1)
    assert "FLOWYARD_NOT_BEFORE" not in launch_spec(run, "token", {}).environment
