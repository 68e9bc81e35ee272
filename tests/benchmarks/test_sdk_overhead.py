"""SDK task overhead: 1000 no-op tasks in one flow, without and with reporting to a local stub control plane.

Run with `make bench` (`pytest tests/benchmarks -q`); the table is printed and recorded in docs/benchmarks.md.
Overhead per task = (flow time − the same 1000 plain function calls) / 1000, median of several rounds.
With reporting, the flow's time is what the tasks' thread pays (events are queued; a background thread
sends them); the flush after the flow, until the stub has stored every event, is shown apart.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from flowyard import EventSink, Flow, RunState, flow, task
from flowyard.events import ConsoleSink
from flowyard.reporting import Reporter, ReportingSink

ROOT = Path(__file__).resolve().parents[2]
TASKS = 1000
ROUNDS = 7
TARGET_SECONDS = 0.001


def _stub_control_plane():
    spec = importlib.util.spec_from_file_location("flowyard_bench_support", ROOT / "tests" / "flowyard" / "support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StubControlPlane


def noop(i):
    return i


noop_task = task(noop, name="noop")


@flow(name="inline")
def inline_flow(n: int):
    for i in range(n):
        noop_task(i)


@flow(name="mapped")
def mapped_flow(n: int):
    for future in noop_task.map(range(n)):
        future.result()


def baseline() -> float:
    started = time.perf_counter()
    for i in range(TASKS):
        noop(i)
    return time.perf_counter() - started


def overhead(flow_obj: Flow, sink: EventSink) -> float:
    """Seconds of SDK overhead per task for one run of `flow_obj`."""
    started = time.perf_counter()
    flow_run = flow_obj.run({"n": TASKS}, sink=sink)
    elapsed = time.perf_counter() - started
    assert flow_run.state is RunState.SUCCEEDED
    return (elapsed - baseline()) / TASKS


def measure(flow_obj: Flow, make_sink: Callable[[], EventSink]) -> dict[str, float]:
    """Median and worst per-task overhead over the rounds."""
    per_task = [overhead(flow_obj, make_sink()) for _ in range(ROUNDS)]
    return {"median": statistics.median(per_task), "max": max(per_task)}


def measure_reporting(flow_obj: Flow, stub_class) -> dict[str, float]:
    """Like `measure`, reporting each round to a fresh stub API, checking every event arrived."""
    per_task, flushes = [], []
    for _ in range(ROUNDS):
        stub = stub_class().start()
        try:
            reporter = Reporter(stub.url, stub.run_id, stub.token, heartbeat_seconds=3600).start()
            per_task.append(overhead(flow_obj, ReportingSink(reporter)))
            started = time.perf_counter()
            assert reporter.close(60), "every event must reach the stub"
            flushes.append(time.perf_counter() - started)
            assert stub.rejected == []
            assert len(stub.tasks) == TASKS and [e["state"] for e in stub.run_events] == ["RUNNING", "SUCCEEDED"]
        finally:
            stub.stop()
    return {"median": statistics.median(per_task), "max": max(per_task), "flush": statistics.median(flushes)}


def test_per_task_overhead_with_reporting_is_well_under_a_millisecond(capsys):
    stub_class = _stub_control_plane()
    rows = []
    with open(os.devnull, "w") as devnull:
        for label, flow_obj in (("call (inline)", inline_flow), (".map (thread pool)", mapped_flow)):
            rows.append((label, "nowhere (no sink)", measure(flow_obj, EventSink)))
            rows.append((label, "console → /dev/null", measure(flow_obj, lambda: ConsoleSink(devnull))))
            rows.append((label, "reporting to a local stub API", measure_reporting(flow_obj, stub_class)))
    lines = [
        f"SDK task overhead: {TASKS} no-op tasks per flow, median of {ROUNDS} rounds "
        f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)",
        "",
        "| tasks run by | events go to | overhead per task (median) | worst round | flush after the flow |",
        "|---|---|---|---|---|",
    ]
    for label, sink_label, stats in rows:
        flush = f"{stats['flush'] * 1000:.0f} ms" if "flush" in stats else "—"
        lines.append(f"| {label} | {sink_label} | {stats['median'] * 1e6:.1f} µs | {stats['max'] * 1e6:.1f} µs | {flush} |")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    for label, sink_label, stats in rows:
        if sink_label.startswith("reporting"):
            assert stats["median"] < TARGET_SECONDS, f"{label} with reporting: {stats['median'] * 1e6:.0f} µs per task"
