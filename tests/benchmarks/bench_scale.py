"""Scale: 1,000 deployments with schedules, then 100 concurrent runs over two Docker engines of the benchmark's
own and two Celery workers (each with its own beat). Every run must end SUCCEEDED with its user code run once;
prints the throughput and trigger → RUNNING p50/p99. Not part of `make test`.

Run with `make bench`, or alone: `.venv/bin/pytest tests/benchmarks/bench_scale.py -q -s`
(`FLOWYARD_BENCH_DEPLOYMENTS` and `FLOWYARD_BENCH_RUNS` make it smaller for a quick try).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from controlplane.runtimes.backends.base import RUN_LABEL
from flowyard_testkit.docker_engines import docker_engines
from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import WorkerProcess, behaviours_image, running_platform, wait_until  # noqa: F401
from flowyard_testkit.schedulers import percentile

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOYMENTS = int(os.environ.get("FLOWYARD_BENCH_DEPLOYMENTS", "1000"))
RUNS = int(os.environ.get("FLOWYARD_BENCH_RUNS", "100"))
ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")


class ContainerStarts:
    """Counts the containers an engine starts, per run, from a live event stream (the engine keeps only its last
    256 events, too few to ask afterwards)."""

    def __init__(self, engine) -> None:
        self.runs: Counter[str] = Counter()
        self._stream = engine.client().events(decode=True, filters={"type": "container", "event": "start"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self.runs[event["Actor"]["Attributes"].get(RUN_LABEL, "")] += 1
        except Exception:  # noqa: BLE001 - the stream was closed by stop()
            pass

    def stop(self) -> Counter[str]:
        """Stop listening; the starts seen, per run id."""
        self._stream.close()
        self._thread.join(timeout=5)
        return self.runs


def trigger_and_close(platform, deployment):  # noqa: F811
    """Trigger a 2 s run from a pool thread, then close the thread's database connection (the test database is
    dropped at the end, which open connections prevent)."""
    from django.db import connection

    try:
        return platform.trigger(deployment, mode="sleep", seconds=2)
    finally:
        connection.close()


def scheduled_deployments(platform, count: int) -> None:  # noqa: F811
    """`count` more workflows of the tenant, each deployed to test with a daily schedule."""
    from controlplane.deployments import services as deployments
    from controlplane.workflows import services as workflows
    from flowyard_testkit.platform import BEHAVIOURS_CONFIG
    from flowyard_testkit.registration import register_version

    for number in range(count):
        name = f"scheduled-{number}"
        workflow = workflows.workflow_create(actor=None, project=platform.tenant.project, name=name)
        version = register_version(workflow=workflow, image_ref=platform.image[0], image_digest=platform.image[1],
                                   config={**BEHAVIOURS_CONFIG, "name": name, "schedule-enabled": True,
                                           "schedule": "cron(0 3 * * ? *)"})
        deployments.deployment_set(actor=None, workflow=workflow, environment=platform.tenant.test_env, version=version)


def test_a_hundred_concurrent_runs_over_two_engines_and_two_workers(
        live_server, behaviours_image, docker_client, tmp_path):  # noqa: F811
    from controlplane.runs.models import Run

    with docker_engines("sa", "sb") as engines:
        for engine in engines:
            engine.load(behaviours_image[0])
        hosts = {"hosts": [{"base_url": engine.base_url} for engine in engines], "network_mode": "host"}
        with running_platform(live_server, behaviours_image, engines[0].client(), tmp_path,
                              target_settings=hosts) as platform:
            second = WorkerProcess(platform.worker.env, tmp_path / "worker-2.log").start()
            try:
                began = time.monotonic()
                scheduled_deployments(platform, DEPLOYMENTS)
                print(f"\n{DEPLOYMENTS} scheduled deployments made in {time.monotonic() - began:.1f} s")
                deployment = platform.deploy()
                starts = [ContainerStarts(engine) for engine in engines]
                began = time.monotonic()
                with ThreadPoolExecutor(max_workers=8) as pool:
                    runs = list(pool.map(lambda _: trigger_and_close(platform, deployment), range(RUNS)))
                wait_until(lambda: Run.objects.filter(pk__in=runs, state__in=ENDED).count() == RUNS,
                           timeout=60 + 6 * RUNS, what=f"{RUNS} runs to end", every=1)
                elapsed = time.monotonic() - began
                ended = list(Run.objects.filter(pk__in=runs).values_list("state", "created_at", "started_at"))
                assert [state for state, _, _ in ended] == ["SUCCEEDED"] * RUNS
                assert not Run.objects.filter(retry_of__in=runs).exists()
                for run_id in runs:
                    assert platform.logs(run_id).count("first line of user code") == 1
                to_running = [(started - created).total_seconds() for _, created, started in ended]
                left = {engine.name: len(engine.client().containers.list(all=True)) for engine in engines}
                per_run = [counter.stop() for counter in starts]
                started = {engine.name: sum(seen.values()) for engine, seen in zip(engines, per_run)}
                assert sum(per_run, Counter()) == Counter({str(run_id): 1 for run_id in runs})  # one start per run
                print(f"{RUNS} runs in {elapsed:.1f} s: {RUNS / elapsed * 60:.1f} runs/min; trigger → RUNNING "
                      f"p50 {statistics.median(to_running):.2f} s, p99 {percentile(to_running, 99):.2f} s; "
                      f"containers started per engine {started}, left (removed once ended) {left}")
            finally:
                second.stop()
