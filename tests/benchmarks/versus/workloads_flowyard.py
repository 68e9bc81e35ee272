"""The comparison workloads in the Flowyard SDK, reporting to a live control plane (FLOWYARD_API_URL, RUN_ID, RUN_TOKEN).

Usage: python workloads_flowyard.py WORKLOAD   (B3, B4-chain, B4-fanout, B7-cache-fill, B7-cache-hit, B7-retries)
Prints {"workload", "seconds", "check"}: the flow's wall time plus the flush of its events to the control plane.
"""

from __future__ import annotations

import json
import sys
import time

from flowyard import RunState, flow, task
from flowyard.reporting import Reporter, ReportingSink

TASKS, CHAIN, RETRIED = 1000, 100, 200
_failed_once: set[int] = set()


@task
def noop(i: int) -> int:
    """Nothing but the task's own bookkeeping."""
    return i


@task
def increment(x: int) -> int:
    """One link of a chain."""
    return x + 1


@task
def total(values: list[int]) -> int:
    """The reduce of the fan-out."""
    return sum(values)


@task(cache=True)
def square(i: int) -> int:
    """A cached task: the second run takes every result from the cache."""
    return i * i


@task(retries=1, retry_delay_seconds=0)
def flaky(i: int) -> int:
    """Fails its first attempt, succeeds on the retry."""
    if i not in _failed_once:
        _failed_once.add(i)
        raise RuntimeError(f"first attempt of {i}")
    return i


@flow(name="b3")
def b3() -> int:
    return sum(noop(i) for i in range(TASKS))


@flow(name="b4-chain")
def b4_chain() -> int:
    x = 0
    for _ in range(CHAIN):
        x = increment(x)
    return x


@flow(name="b4-fanout")
def b4_fanout() -> int:
    return total(noop.map(range(TASKS)))


@flow(name="b7-cache")
def b7_cache() -> int:
    return sum(square(i) for i in range(TASKS))


@flow(name="b7-retries")
def b7_retries() -> int:
    return sum(flaky(i) for i in range(RETRIED))


FLOWS = {"B3": b3, "B4-chain": b4_chain, "B4-fanout": b4_fanout, "B7-cache-fill": b7_cache,
         "B7-cache-hit": b7_cache, "B7-retries": b7_retries}


def main(workload: str) -> None:
    """Run one workload once and print its time and result."""
    from flowyard import cache
    from flowyard.result_store import ControlPlaneStore

    reporter = Reporter.from_env(heartbeat_seconds=3600)
    assert reporter is not None, "FLOWYARD_API_URL, FLOWYARD_RUN_ID and FLOWYARD_RUN_TOKEN must be set"
    cache.use_store(ControlPlaneStore.from_env())  # as the runner does: the environment's shared result store
    reporter.start()
    started = time.perf_counter()
    flow_run = FLOWS[workload].run({}, sink=ReportingSink(reporter))
    delivered = reporter.close(120)
    seconds = time.perf_counter() - started
    assert flow_run.state is RunState.SUCCEEDED, flow_run.error
    assert delivered, "every event must reach the control plane"
    print(json.dumps({"workload": workload, "seconds": seconds, "check": flow_run.result}))


if __name__ == "__main__":
    main(sys.argv[1])
