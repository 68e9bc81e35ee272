"""Flowyard side by side with Prefect 3, in one run on one machine: the ratio Flowyard / Prefect per workload.

B3 1,000 no-op tasks in a flow; B4 a chain of 100 dependent tasks, and a fan-out of 1,000 mapped tasks with a
reduce; B7 1,000 cached tasks hit by a second run, and 200 tasks that fail once and retry. Flowyard reports to a live
control plane (this test's server) with a run's token, as the runner does, caching through the environment's result
store; Prefect 3 (scripts/bench_prefect_env) runs against its ephemeral local server. Each workload's result is
checked on both sides. Prints the table and writes it into docs/benchmarks.md between its "versus-prefect" markers.
Targets (Flowyard / Prefect): B3 ≤ 0.3, B4 ≤ 0.5, B7 ≤ 0.5.

Run with `make bench`, or alone: `.venv/bin/pytest tests/benchmarks/test_versus_prefect.py -q -s`
(FLOWYARD_BENCH_REPETITIONS, default 3).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from flowyard_testkit.bench_report import bench_command, write_docs_block
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
VERSUS = ROOT / "tests" / "benchmarks" / "versus"
PREFECT_VENV = ROOT / "var" / "bench" / "prefect"
REPETITIONS = int(os.environ.get("FLOWYARD_BENCH_REPETITIONS", "3"))
TASKS, CHAIN, RETRIED = 1000, 100, 200
WORKLOADS = {  # name: (what, expected result, target ratio)
    "B3": ("1,000 no-op tasks, sequential", sum(range(TASKS)), 0.3),
    "B4-chain": ("a chain of 100 dependent tasks", CHAIN, 0.5),
    "B4-fanout": ("1,000 mapped tasks and a reduce", sum(range(TASKS)), 0.5),
    "B7-cache-hit": ("1,000 cached tasks, second run", sum(i * i for i in range(TASKS)), 0.5),
    "B7-retries": ("200 tasks failing once, retried", sum(range(RETRIED)), 0.5),
}


def prefect_times(workload: str, home: Path) -> list[float]:
    """The seconds of each repetition of `workload` in Prefect (one process, its ephemeral server started first)."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(home), "PREFECT_HOME": str(home),
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    result = subprocess.run([str(PREFECT_VENV / "bin" / "python"), "workloads_prefect.py", workload, str(REPETITIONS)],
                            cwd=VERSUS, env=environment, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == REPETITIONS and all(line["check"] == WORKLOADS[workload][1] for line in lines), lines
    return [line["seconds"] for line in lines]


def flowyard_time(workload: str, tenant, live_server, results: Path) -> float:
    """The seconds of one run of `workload` with the Flowyard SDK reporting to the live control plane."""
    from controlplane.runs import services as runs
    from flowyard_spec.states import Role
    from flowyard_testkit.tokens import run_token_issue

    run = runs.run_trigger(actor=tenant.users[Role.DEVELOPER], deployment=tenant.test_deployment, parameters={})
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWYARD_")}
    environment.update(FLOWYARD_API_URL=live_server.url, FLOWYARD_RUN_ID=str(run.pk),
                       FLOWYARD_RUN_TOKEN=run_token_issue(run=run), FLOWYARD_RESULT_DIR=str(results))
    result = subprocess.run([sys.executable, "workloads_flowyard.py", workload], cwd=VERSUS, env=environment,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    expected = WORKLOADS["B7-cache-hit"][1] if workload == "B7-cache-fill" else WORKLOADS[workload][1]
    assert line["check"] == expected, line
    return line["seconds"]


def prefect_version() -> str:
    return subprocess.run([str(PREFECT_VENV / "bin" / "python"), "-c", "import prefect; print(prefect.__version__)"],
                          capture_output=True, text=True, timeout=120, check=True).stdout.strip()


def table(rows: dict[str, tuple[list[float], list[float]]]) -> list[str]:
    """The markdown table: min/median per system, the ratio of medians and the target."""
    lines = ["| workload | Flowyard min / median | Prefect min / median | Flowyard / Prefect | target |",
             "|---|---|---|---|---|"]
    for name, (flowyard, prefect) in rows.items():
        what, _, target = WORKLOADS[name]
        ratio = statistics.median(flowyard) / statistics.median(prefect)
        lines.append(f"| {name}: {what} | {min(flowyard):.2f} / {statistics.median(flowyard):.2f} s "
                     f"| {min(prefect):.2f} / {statistics.median(prefect):.2f} s | {ratio:.2f} "
                     f"| ≤ {target} {'met' if ratio <= target else 'missed'} |")
    return lines


def test_flowyard_and_prefect_side_by_side(live_server, tmp_path):
    from django.db import connection

    from flowyard_testkit.tenants import build_tenant

    subprocess.run([str(ROOT / "scripts" / "bench_prefect_env")], check=True, timeout=900)
    tenant = build_tenant("versus")
    results = tmp_path / "results"
    rows = {}
    for workload in WORKLOADS:
        if workload == "B7-cache-hit":
            flowyard_time("B7-cache-fill", tenant, live_server, results)  # the first run fills the cache
        flowyard = [flowyard_time(workload, tenant, live_server, results) for _ in range(REPETITIONS)]
        rows[workload] = (flowyard, prefect_times(workload, tmp_path / f"prefect-{workload}"))
    lines = table(rows)
    print("\n" + "\n".join(lines))

    when = datetime.date.today().isoformat()
    write_docs_block("versus-prefect", [
        f"Result ({when}, Python {platform.python_version()}, {os.cpu_count()} CPUs, Prefect {prefect_version()}, "
        f"control plane on {connection.display_name}; {REPETITIONS} repetitions each, one machine, one run of "
        f"`{bench_command('tests/benchmarks/test_versus_prefect.py', 'FLOWYARD_DATABASE_URL', 'FLOWYARD_BENCH_REPETITIONS')}`):",
        "",
        *lines,
    ])
