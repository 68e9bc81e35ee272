"""Schedule lateness: 50 every-minute schedules of the behaviours workflow, run in Docker, for
FLOWYARD_BENCH_SCHEDULE_MINUTES minutes (default 10). Lateness of run creation (created_at − tick) and of the
first line of user code (its `at` − tick), p50/p95/p99/max. Target: p50 ≤ 1 s, p99 ≤ 3 s for both.

The scheduler creates a run FLOWYARD_SCHEDULE_LEAD_SECONDS (30 s by default) ahead of its tick and the runner, once its
workflow is imported, waits for the tick: run creation "lateness" is negative by design, and first user code
is late only by what happens after the tick (or by all of it when the container was not up in time).

Layout as in production: a scheduler worker (`-B`, solo pool) on a queue of its own, so launches never delay
ticks, and a launch worker with a thread pool. Docker's own events time each run's container create and start,
which splits the lateness into stages (scheduler, launch queue and claim, docker start, runner start, user code).

Run with `make bench`, or `FLOWYARD_BENCH_SCHEDULE_MINUTES=2 .venv/bin/pytest tests/benchmarks/test_schedule_lateness.py -q -s`.
"""

from __future__ import annotations

import os
import statistics
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.utils import timezone as django_timezone

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import BEHAVIOURS_CONFIG, RUN_LABEL, behaviours_image, platform, wait_until  # noqa: F401
from flowyard_testkit.schedulers import QueueWorker, drop_queues, minute_boundaries, percentile, unique_queue

pytestmark = pytest.mark.django_db(transaction=True)
SCHEDULES = 50
MINUTES = float(os.environ.get("FLOWYARD_BENCH_SCHEDULE_MINUTES", "10"))
LAUNCH_THREADS = int(os.environ.get("FLOWYARD_BENCH_LAUNCH_THREADS", "16"))
FIRST_LINE = "first line of user code"
SCHEDULER_QUEUE = unique_queue("bench-scheduler")
TARGET_P50, TARGET_P99 = 1.0, 3.0


class ContainerEvents:
    """Docker's create/start events of Flowyard's containers, by run id, read on a thread while the benchmark runs."""

    def __init__(self, docker) -> None:
        self.times: dict[str, dict[str, datetime]] = {}
        self.stream = docker.events(decode=True, filters={"type": "container", "label": "org.flowyard.managed=true"})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                run_id = event.get("Actor", {}).get("Attributes", {}).get(RUN_LABEL)
                if run_id and event.get("Action") in ("create", "start"):
                    at = datetime.fromtimestamp(event["timeNano"] / 1e9, tz=timezone.utc)
                    self.times.setdefault(run_id, {}).setdefault(event["Action"], at)
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            pass

    def close(self) -> None:
        """Stop reading events."""
        self.stream.close()


def deploy_schedules(platform) -> list:  # noqa: F811
    """Fifty production deployments of the behaviours image, each scheduled every minute (1 vCPU, 256 MiB)."""
    from controlplane.deployments import services as deployments
    from controlplane.workflows import services as workflows
    from flowyard_testkit.registration import register_version

    deployed = []
    for number in range(SCHEDULES):
        name = f"every-minute-{number:02d}"
        workflow = workflows.workflow_create(actor=None, project=platform.tenant.project, name=name)
        version = register_version(
            workflow=workflow, image_ref=platform.image[0], image_digest=platform.image[1],
            config={**BEHAVIOURS_CONFIG, "name": name, "cpu": 1024, "memory": 256, "schedule-enabled": True,
                    "schedule": "rate(1 minute)"},
        )
        deployed.append(deployments.deployment_set(actor=None, workflow=workflow,
                                                   environment=platform.tenant.production_env, version=version))
    return deployed


def summary(name: str, values: list[float]) -> str:
    """One line of percentiles in seconds."""
    return (f"{name:<38} p50 {statistics.median(values):6.2f}  p95 {percentile(values, 95):6.2f}  "
            f"p99 {percentile(values, 99):6.2f}  max {max(values):6.2f}  (n={len(values)})")


@pytest.mark.parametrize("platform", [{"FLOWYARD_SCHEDULER_QUEUE": SCHEDULER_QUEUE, "FLOWYARD_RECONCILE_SECONDS": "5"}],
                         indirect=True)
def test_every_minute_schedules_create_and_start_their_runs_on_time(platform, docker_client, tmp_path):  # noqa: F811
    from controlplane.runs.models import Run, RunLogLine
    from controlplane.scheduling.models import ScheduleState

    env = platform.worker.env
    scheduler = QueueWorker(env, tmp_path / "scheduler.log", SCHEDULER_QUEUE, beat=True).start()
    launcher = QueueWorker(env, tmp_path / "launcher.log", env["FLOWYARD_TASK_QUEUE"], beat=False, pool="threads",
                           concurrency=LAUNCH_THREADS).start()
    events = ContainerEvents(docker_client)
    try:
        deployed = deploy_schedules(platform)
        wait_until(lambda: ScheduleState.objects.filter(deployment__in=deployed, cursor__isnull=False).count()
                   == SCHEDULES, timeout=30, what="the scheduler to see every schedule")
        ready = django_timezone.now()
        lead = timedelta(seconds=settings.FLOWYARD.schedule_lead_seconds)  # ticks whose runs come after `ready`
        ticks = minute_boundaries(ready + lead, ready + lead + timedelta(minutes=MINUTES))
        runs = Run.objects.filter(deployment__in=deployed, trigger="schedule", scheduled_for__in=ticks)
        finish = (ticks[-1] - django_timezone.now()).total_seconds() + 120
        wait_until(lambda: runs.count() == SCHEDULES * len(ticks) and not runs.exclude(
            state__in=("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED", "TIMED_OUT")).exists(),
            timeout=finish, every=2, what="every scheduled run to end")
    finally:
        events.close()
        scheduler.stop()
        launcher.stop()
        drop_queues(SCHEDULER_QUEUE)

    first_lines = dict(RunLogLine.objects.filter(run__in=runs, message=FIRST_LINE).values_list("run_id", "at"))
    ready_lines = dict(RunLogLine.objects.filter(run__in=runs, message__startswith="ready ").values_list("run_id", "at"))
    created, user_code = [], []
    stages: dict[str, list[float]] = {name: [] for name in (
        "run created ahead of its tick", "launch: created -> container create", "docker: create -> start",
        "runner: start -> imported, waiting", "tick -> RUNNING", "RUNNING -> first user line")}
    for run in runs:
        created.append((run.created_at - run.scheduled_for).total_seconds())
        if run.pk not in first_lines:
            continue
        user_code.append((first_lines[run.pk] - run.scheduled_for).total_seconds())
        docker = events.times.get(str(run.pk), {})
        spans = [("run created ahead of its tick", run.created_at, run.scheduled_for),
                 ("launch: created -> container create", run.created_at, docker.get("create")),
                 ("docker: create -> start", docker.get("create"), docker.get("start")),
                 ("runner: start -> imported, waiting", docker.get("start"), ready_lines.get(run.pk)),
                 ("tick -> RUNNING", run.scheduled_for, run.started_at),
                 ("RUNNING -> first user line", run.started_at, first_lines[run.pk])]
        for name, begin, end in spans:
            if begin and end:
                stages[name].append((end - begin).total_seconds())
    states = Counter(runs.values_list("state", flat=True))
    print(f"\n{SCHEDULES} every-minute schedules, {len(ticks)} ticks ({ticks[0]:%H:%M}-{ticks[-1]:%H:%M} UTC), "
          f"{runs.count()} runs, states {dict(states)}, launch threads {LAUNCH_THREADS}")
    print(summary("run creation lateness", created))
    print(summary("first user code lateness", user_code))
    for name, values in stages.items():
        if values:
            print(summary(f"  {name}", values))
    print(f"  runs whose runner was up before the tick: {len(ready_lines)} of {runs.count()}")

    assert runs.count() == SCHEDULES * len(ticks) and len(user_code) == runs.count()
    assert statistics.median(created) <= TARGET_P50 and percentile(created, 99) <= TARGET_P99
    assert statistics.median(user_code) <= TARGET_P50 and percentile(user_code, 99) <= TARGET_P99
