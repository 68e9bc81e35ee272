"""Trigger → first line of user code, Flowyard (API → Celery → Docker backend → runner) side by side with a
raw `docker run` of the same image with the same limits (1 vCPU, 256 MiB), 30 runs each. Target:
Flowyard's p50 within 1.5× raw docker run.

Run with `make bench` (or `.venv/bin/pytest tests/benchmarks/test_trigger_latency.py -q -s`).
"""

from __future__ import annotations

import datetime
import statistics
import time

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, platform  # noqa: F401
from flowyard_testkit.schedulers import percentile

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 30
FIRST_LINE = "first line of user code"
CPUS, MEMORY_MIB = 1, 256  # the same limits on both sides: the comparison is of orchestration, not of CPU


def flowyard_latency(platform, deployment: str) -> float:  # noqa: F811
    """Seconds from the trigger request to the runner's first user log line."""
    from controlplane.runs.models import RunLogLine

    started = datetime.datetime.now(datetime.UTC)
    run_id = platform.trigger(deployment, mode="ok")
    platform.wait_for(run_id, "SUCCEEDED", timeout=60)
    line = RunLogLine.objects.get(run_id=run_id, message=FIRST_LINE)
    return (line.at - started).total_seconds()


def raw_docker_latency(docker, image: str) -> float:
    """Seconds from `docker run` to the same first line, timed by the daemon's log timestamp."""
    started = datetime.datetime.now(datetime.UTC)
    container = docker.containers.run(
        image, ["--param", "mode=ok"], network_mode="host", detach=True,
        nano_cpus=CPUS * 1_000_000_000, mem_limit=f"{MEMORY_MIB}m",
    )
    try:
        container.wait(timeout=60)
        for raw in container.logs(stdout=True, stderr=True, timestamps=True).decode().splitlines():
            stamp, _, text = raw.partition(" ")
            if FIRST_LINE in text:
                at = datetime.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
                return (at - started).total_seconds()
        raise AssertionError("the raw container never printed the first line")
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("platform", [{"FLOWYARD_RECONCILE_SECONDS": "5"}], indirect=True)
def test_trigger_to_first_user_line_is_within_one_and_a_half_raw_docker_runs(platform, docker_client):  # noqa: F811
    deployment = platform.deploy(cpu=CPUS * 1024, memory=MEMORY_MIB)
    flowyard_latency(platform, deployment)  # warm up both paths once
    raw_docker_latency(docker_client, platform.image[0])
    flowyard, raw = [], []
    for _ in range(RUNS):
        flowyard.append(flowyard_latency(platform, deployment))
        raw.append(raw_docker_latency(docker_client, platform.image[0]))
    report = {
        "flowyard": (statistics.median(flowyard), percentile(flowyard, 95)),
        "raw docker run": (statistics.median(raw), percentile(raw, 95)),
    }
    for name, (p50, p95) in report.items():
        print(f"{name:>15}: p50 {p50 * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   ({RUNS} runs)")
    ratio = report["flowyard"][0] / report["raw docker run"][0]
    print(f"p50 ratio flowyard / raw docker run: {ratio:.2f} (target ≤ 1.5)")
    assert ratio <= 1.5
