"""The comparison workloads (workloads.py) in Prefect 3, against its ephemeral local server (no PREFECT_API_URL:
Prefect starts one).

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
from workloads import build

FLOWS = build(flow, task, cached={"cache_policy": TASK_SOURCE + INPUTS, "persist_result": True},
              retried={"retries": 1, "retry_delay_seconds": 0})


def main(workload: str, repetitions: int) -> None:
    """Start the server (warm-up), then time `repetitions` runs of the workload."""
    FLOWS["B4-chain"]()  # warm-up: starts the ephemeral server
    if workload == "B7-cache-hit":
        FLOWS["B7-cache-fill"]()
    for _ in range(repetitions):
        started = time.perf_counter()
        result = FLOWS[workload]()
        print(json.dumps({"workload": workload, "seconds": time.perf_counter() - started, "check": result}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
