"""R9: a rolling restart of the web process and both workers (each with its own beat) while runs are in flight
and a container of a run the control plane has no row for (an orphan) runs on the engine, on a control plane of
the test's own. Every run ends SUCCEEDED, its user code ran once and its log has no gap; the orphan is stopped by
the reconciler and reported."""

from __future__ import annotations

import uuid

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.own_platform import OwnControlPlane
from flowyard_testkit.platform import behaviours_image, wait_until  # noqa: F401
from flowyard_testkit.postgres import own_postgres  # noqa: F401

ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")


@pytest.fixture(autouse=True)
def _database():
    """The control plane under test uses its own cluster, not the test database."""


def test_restarting_web_and_both_workers_with_runs_in_flight_ends_every_run_once(
        own_postgres, behaviours_image, docker_client, tmp_path):  # noqa: F811
    plane = OwnControlPlane(own_postgres, behaviours_image, tmp_path)
    try:
        plane.start_web()
        plane.start_worker()
        plane.start_worker()
        runs = [plane.trigger(mode="chatty", seconds=12) for _ in range(3)]
        for run_id in runs:
            wait_until(lambda run_id=run_id: plane.state(run_id) == "RUNNING", timeout=120, what="runs RUNNING")
        orphan_run = str(uuid.uuid4())
        orphan = docker_client.containers.run(
            behaviours_image[0], entrypoint=["python", "-c", "import time; time.sleep(600)"], detach=True,
            name=f"flowyard-run-{orphan_run}", network_mode="host", user="10001", read_only=True,
            labels={"org.flowyard.managed": "true", "org.flowyard.run": orphan_run,
                    "org.flowyard.installation": plane.installation})

        plane.stop_web()  # the runners keep their events meanwhile
        plane.start_web()
        plane.restart_worker(0)
        plane.restart_worker(1)

        for run_id in runs:
            wait_until(lambda run_id=run_id: plane.state(run_id) in ENDED, timeout=120, what="every run to end")
            assert plane.state(run_id) == "SUCCEEDED"
            lines = plane.log_lines(run_id)
            assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
            messages = [line["message"] for line in lines]
            assert messages.count("first line of user code") == 1
            assert [m for m in messages if m.startswith("chatty line")] == [f"chatty line {n}" for n in range(120)]
        wait_until(lambda: not docker_client.containers.list(filters={"id": orphan.id, "status": "running"}),
                   timeout=60, what="the reconciler to stop the orphan")
        def reported() -> bool:  # by whichever worker's reconciler stopped it, before or after the restarts
            return any(f"workload {orphan_run} (" in log.read_text() and "belongs to no run" in log.read_text()
                       for log in tmp_path.glob("worker-*.log"))
        wait_until(reported, timeout=30, what="the orphan reported in a worker's log")
    finally:
        plane.stop(docker_client)
