"""The comparison workloads (workloads.py) in the Flowyard SDK, reporting to a live control plane
(FLOWYARD_API_URL, FLOWYARD_RUN_ID, FLOWYARD_RUN_TOKEN) and caching in its result store (FLOWYARD_RESULT_DIR).

Usage: python workloads_flowyard.py WORKLOAD   (B3, B4-chain, B4-fanout, B7-cache-fill, B7-cache-hit, B7-retries)
Prints {"workload", "seconds", "check"}: the flow's wall time plus the flush of its events to the control plane.
"""

from __future__ import annotations

import json
import sys
import time

from workloads import build

from flowyard import RunState, cache, flow, task
from flowyard.reporting import Reporter, ReportingSink
from flowyard.result_store import store_from_env

FLOWS = build(flow, task, cached={"cache": True}, retried={"retries": 1, "retry_delay_seconds": 0})


def main(workload: str) -> None:
    """Run one workload once and print its time and result."""
    reporter = Reporter.from_env(heartbeat_seconds=3600)
    assert reporter is not None, "FLOWYARD_API_URL, FLOWYARD_RUN_ID and FLOWYARD_RUN_TOKEN must be set"
    cache.use_store(store_from_env())  # as the runner does: the environment's shared result store
    reporter.start()
    started = time.perf_counter()
    flow_run = FLOWS[workload].run({}, sink=ReportingSink(reporter))
    assert cache.flush_store() == 0, "every cached result must be recorded"  # as the runner does before the end
    delivered = reporter.close(120)
    seconds = time.perf_counter() - started
    assert flow_run.state is RunState.SUCCEEDED, flow_run.error
    assert delivered, "every event must reach the control plane"
    print(json.dumps({"workload": workload, "seconds": seconds, "check": flow_run.result}))


if __name__ == "__main__":
    main(sys.argv[1])
