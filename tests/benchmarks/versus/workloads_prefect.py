"""The comparison workloads in Prefect 3, against its ephemeral local server (no PREFECT_API_URL: Prefect starts one).

Usage: python workloads_prefect.py WORKLOAD REPETITIONS   (run by var/bench/prefect's Python)
A warm-up flow run first starts the server; then prints one {"workload", "seconds", "check"} line per repetition.
B7-cache-hit first fills the cache with one run of the same flow (not timed), then times the runs that hit it.
"""

from __future__ import annotations

import json
import sys
import time

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

TASKS, CHAIN, RETRIED = 1000, 100, 200
_failed_once: set[int] = set()


@task
def noop(i: int) -> int:
    return i


@task
def increment(x: int) -> int:
    return x + 1


@task
def total(values: list[int]) -> int:
    return sum(values)


@task(cache_policy=TASK_SOURCE + INPUTS, persist_result=True)
def square(i: int) -> int:
    return i * i


@task(retries=1, retry_delay_seconds=0)
def flaky(i: int) -> int:
    if i not in _failed_once:
        _failed_once.add(i)
        raise RuntimeError(f"first attempt of {i}")
    return i


@flow(name="warm-up")
def warm_up() -> int:
    return noop(1)


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
    _failed_once.clear()
    return sum(flaky(i) for i in range(RETRIED))


FLOWS = {"B3": b3, "B4-chain": b4_chain, "B4-fanout": b4_fanout, "B7-cache-fill": b7_cache,
         "B7-cache-hit": b7_cache, "B7-retries": b7_retries}


def main(workload: str, repetitions: int) -> None:
    """Start the server (warm-up), then time `repetitions` runs of the workload."""
    assert warm_up() == 1
    if workload == "B7-cache-hit":
        b7_cache()  # fill
    for _ in range(repetitions):
        started = time.perf_counter()
        result = FLOWS[workload]()
        print(json.dumps({"workload": workload, "seconds": time.perf_counter() - started, "check": result}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
