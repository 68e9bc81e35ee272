"""The comparison workloads, written once and built with either framework's `flow` and `task` decorators.

`build(flow, task, cached=..., retried=...)` returns the flows by workload name; `cached` and `retried` are the
framework's own options for a cached task and for a task retried once without delay. Both systems run the same
function bodies, so the only difference measured is the orchestration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TASKS, CHAIN, RETRIED = 1000, 100, 200


def build(flow: Callable[..., Any], task: Callable[..., Any], *, cached: dict[str, Any],
          retried: dict[str, Any]) -> dict[str, Any]:
    """The workloads' flows, made with `flow` and `task`."""
    failed_once: set[int] = set()

    @task
    def noop(i: int) -> int:
        return i

    @task
    def increment(x: int) -> int:
        return x + 1

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    @task(**cached)
    def square(i: int) -> int:
        return i * i

    @task(**retried)
    def flaky(i: int) -> int:
        if i not in failed_once:
            failed_once.add(i)
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
        failed_once.clear()
        return sum(flaky(i) for i in range(RETRIED))

    return {"B3": b3, "B4-chain": b4_chain, "B4-fanout": b4_fanout, "B7-cache-fill": b7_cache,
            "B7-cache-hit": b7_cache, "B7-retries": b7_retries}
