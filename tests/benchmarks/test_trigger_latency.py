"""B1: trigger → first line of user code, Flowyard (API → Celery → Docker backend → runner) side by side with a
raw `docker run` of the same image with the same limits (1 vCPU, 256 MiB), 30 runs each after one warm-up,
min / median / p99. Target: Flowyard's median within 1.5× raw docker run's. Prints the table and writes it into
docs/benchmarks.md between its "trigger-latency" markers.

Run with `make bench` (or `.venv/bin/pytest tests/benchmarks/test_trigger_latency.py -q -s`).
"""

from __future__ import annotations

import datetime
import statistics

import pytest

from flowyard_testkit.bench_report import bench_command, machine_facts, markdown_table, write_docs_block
from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, platform  # noqa: F401
from flowyard_testkit.schedulers import percentile

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 30
FIRST_LINE = "first line of user code"
CPUS, MEMORY_MIB = 1, 256  # the same limits on both sides: the comparison is of orchestration, not of CPU
TARGET = 1.5
TEST_FILE = "tests/benchmarks/test_trigger_latency.py"


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


def milliseconds(values: list[float]) -> list[str]:
    """min, median and p99 of `values` (seconds) in milliseconds."""
    return [f"{value * 1000:.0f} ms" for value in (min(values), statistics.median(values), percentile(values, 99))]


def report(flowyard: list[float], raw: list[float], ratio: float, docker) -> list[str]:
    """The result block for docs/benchmarks.md: the facts, the command and the table."""
    table = markdown_table(
        ["path", "min", "median", "p99"],
        [["Flowyard: trigger → first user line", *milliseconds(flowyard)],
         ["raw `docker run` → first line", *milliseconds(raw)],
         ["ratio of medians, Flowyard / raw docker", f"**{ratio:.2f}**",
          f"target ≤ {TARGET} {'met' if ratio <= TARGET else 'missed'}", ""]],
    )
    return [f"Result ({machine_facts(docker)}; {RUNS} runs each after one warm-up, one after another; a live Django "
            f"server thread, one Celery worker with `--pool=solo`; one run of "
            f"`{bench_command(TEST_FILE, 'FLOWYARD_DATABASE_URL')}`):", "", *table]


@pytest.mark.parametrize("platform", [{"FLOWYARD_RECONCILE_SECONDS": "5"}], indirect=True)
def test_trigger_to_first_user_line_is_within_one_and_a_half_raw_docker_runs(platform, docker_client):  # noqa: F811
    """30 runs on each side, one after another; the table printed and written into the docs, the target asserted."""
    deployment = platform.deploy(cpu=CPUS * 1024, memory=MEMORY_MIB)
    flowyard_latency(platform, deployment)  # warm up both paths once
    raw_docker_latency(docker_client, platform.image[0])
    flowyard, raw = [], []
    for _ in range(RUNS):
        flowyard.append(flowyard_latency(platform, deployment))
        raw.append(raw_docker_latency(docker_client, platform.image[0]))
    ratio = statistics.median(flowyard) / statistics.median(raw)
    lines = report(flowyard, raw, ratio, docker_client)
    print("\n" + "\n".join(lines))
    write_docs_block("trigger-latency", lines)
    assert ratio <= TARGET, f"Flowyard / raw docker median {ratio:.2f} > {TARGET}"
