"""Two scheduler processes on one database for more than three minutes, one of them killed and restarted:
every every-minute schedule gets exactly one run per minute, none missed while a scheduler is down.

Each scheduler is its own `celery worker -B` consuming its own queue, so both passes race on every tick.
Nobody consumes the launch queue: the runs stay QUEUED (the launch path has its own tests).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from controlplane.deployments import services as deployments
from controlplane.runs.models import Run
from controlplane.scheduling.models import ScheduleState
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_testkit.platform import database_url_of, wait_until
from flowyard_testkit.schedulers import QueueWorker, drop_queues, minute_boundaries, scheduler_env, unique_queue
from flowyard_testkit.tenants import build_tenant, digest

pytestmark = pytest.mark.django_db(transaction=True)
SCHEDULES = 8 * ["rate(1 minute)"] + 6 * ["cron(* * * * ? *)"] + 6 * ["* * * * *"]
WINDOW = timedelta(minutes=3, seconds=10)


def deploy_every_minute_schedules(tenant) -> list:
    """Twenty production deployments, each scheduled every minute in one of the three notations."""
    deployed = []
    for number, expression in enumerate(SCHEDULES):
        name = f"minutely-{number:02d}"
        workflow = workflows.workflow_create(actor=None, project=tenant.project, name=name)
        version = register_version(
            workflow=workflow, image_ref=f"127.0.0.1:5000/two-schedulers/{name}:1",
            image_digest=digest(name), config={"name": name, "schedule-enabled": True, "schedule": expression},
        )
        deployed.append(deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.production_env,
                                                   version=version))
    return deployed


def ticks_by_deployment(deployed) -> dict:
    """Every scheduled run's tick, per deployment id."""
    ticks = {deployment.pk: [] for deployment in deployed}
    for deployment_id, tick in Run.objects.filter(deployment__in=deployed, trigger="schedule").values_list(
            "deployment_id", "scheduled_for"):
        ticks[deployment_id].append(tick)
    return ticks


def every_deployment_has_its_run_for(deployed, boundary) -> bool:
    """Whether the minute `boundary` has a run in every deployment."""
    return Run.objects.filter(deployment__in=deployed, trigger="schedule", scheduled_for=boundary).count() == len(deployed)


def wait_for_the_logs(schedulers, deployed) -> dict[str, int]:
    """Wait until the schedulers' logs account for every scheduled run (a pass logs after it commits); the runs
    each process made."""
    def created():
        made = {name: sum(worker.runs_created()) for name, worker in schedulers.items()}
        runs = Run.objects.filter(deployment__in=deployed, trigger="schedule").count()
        return made if sum(made.values()) == runs else None

    return wait_until(created, timeout=20, what="the schedulers' logs to show every run")


def wait_for_the_clock(moment) -> None:
    """Wait until the wall clock reaches `moment`."""
    wait_until(lambda: timezone.now() >= moment, timeout=(moment - timezone.now()).total_seconds() + 5,
               what=f"the clock to reach {moment.isoformat()}")


@pytest.fixture
def schedulers(tmp_path):
    """Two independent scheduler processes on the test database (started by the test, stopped afterwards)."""
    launch_queue = unique_queue("launch")
    queues = {name: unique_queue(f"scheduler-{name}") for name in ("a", "b")}
    url = database_url_of(connection)
    workers = {name: QueueWorker(scheduler_env(url, scheduler_queue=queue, task_queue=launch_queue,
                                               FLOWYARD_RECONCILE_SECONDS="60"),
                                 tmp_path / f"scheduler-{name}.log", queue, beat=True)
               for name, queue in queues.items()}
    yield workers
    for worker in workers.values():
        worker.stop()
    drop_queues(launch_queue, *queues.values())


def test_two_schedulers_create_exactly_one_run_per_schedule_per_minute_even_when_one_is_killed(schedulers):
    tenant = build_tenant("twosched")
    deployed = deploy_every_minute_schedules(tenant)
    started = timezone.now()
    for worker in schedulers.values():
        worker.start()
    wait_until(lambda: ScheduleState.objects.filter(deployment__in=deployed, cursor__isnull=False).count() == 20,
               timeout=30, what="both schedulers to see all twenty schedules")
    ready = timezone.now()
    # A tick's run is made FLOWYARD_SCHEDULE_LEAD_SECONDS ahead of it: the last minute waited for is the first
    # one whose runs appear at least 3 min 10 s from now.
    lead = timedelta(seconds=settings.FLOWYARD.schedule_lead_seconds)
    after = ready + WINDOW + lead - timedelta(microseconds=1)
    expected = minute_boundaries(ready + lead, minute_boundaries(after, after + timedelta(minutes=1))[0])
    assert len(expected) >= 4

    # The first minute: whichever scheduler makes its runs is the one to kill next.
    wait_until(lambda: every_deployment_has_its_run_for(deployed, expected[0]), timeout=(expected[0] - ready).total_seconds() + 20,
               what=f"the runs for {expected[0]:%H:%M}")
    made = wait_for_the_logs(schedulers, deployed)
    winner = max(made, key=made.get)
    survivor = next(name for name in schedulers if name != winner)

    # kill -9 the scheduler that made the runs 15 s before the next minute's runs are due; restart it 30 s later.
    wait_for_the_clock(expected[1] - lead - timedelta(seconds=15))
    schedulers[winner].kill_9()
    survivor_log_before = schedulers[survivor].log_size()
    wait_for_the_clock(expected[1] - lead + timedelta(seconds=15))
    assert every_deployment_has_its_run_for(deployed, expected[1]), f"the {expected[1]:%H:%M} runs were missed"
    wait_until(lambda: sum(schedulers[survivor].runs_created(since=survivor_log_before)) == 20, timeout=20,
               what=f"scheduler {survivor}'s log to show the {expected[1]:%H:%M} runs")
    schedulers[winner].start()

    for boundary in expected[2:]:
        wait_until(lambda: every_deployment_has_its_run_for(deployed, boundary),
                   timeout=(boundary - timezone.now()).total_seconds() + 20, what=f"the runs for {boundary:%H:%M}")
    ended = timezone.now()
    assert ended - started >= WINDOW
    for worker in schedulers.values():
        worker.stop()

    ticks = ticks_by_deployment(deployed)
    for deployment in deployed:
        mine = sorted(ticks[deployment.pk])
        assert not [tick for tick, count in Counter(mine).items() if count > 1], f"{deployment}: a minute ran twice"
        # Every minute from the first to the last one fired, and nothing outside the schedulers' lifetime.
        assert mine == minute_boundaries(mine[0] - timedelta(minutes=1), mine[-1]), f"{deployment}: a minute is missing"
        assert set(expected) <= set(mine) and started < mine[0] and mine[-1] <= ended + lead, (deployment, mine, expected)
    assert not ScheduleState.objects.filter(deployment__in=deployed, skipped_total__gt=0).exists()
    # Both processes made runs, and together exactly the runs there are: each run by one pass of one of them.
    made = wait_for_the_logs(schedulers, deployed)
    assert all(made.values()), made
