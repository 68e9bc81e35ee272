"""R7, the runs' part: the control plane (a web process and a worker) on a PostgreSQL cluster of the test's own,
which is stopped for 60 s while a run in a real container prints a numbered line every 0.1 s. The runner keeps
what it could not send and sends it again; afterwards the run is SUCCEEDED and every line is stored exactly
once, in order, with no gap in the sequence."""

from __future__ import annotations

import time

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.own_platform import OwnControlPlane
from flowyard_testkit.platform import behaviours_image, wait_until  # noqa: F401
from flowyard_testkit.postgres import own_postgres  # noqa: F401

OUTAGE_SECONDS = 60
RUN_SECONDS = 40


@pytest.fixture(autouse=True)
def _database():
    """The control plane under test uses its own cluster, not the test database."""


def test_a_database_outage_of_a_minute_loses_and_duplicates_no_log_line(
        own_postgres, behaviours_image, docker_client, tmp_path):  # noqa: F811
    plane = OwnControlPlane(own_postgres, behaviours_image, tmp_path)
    try:
        plane.start_web()
        plane.start_worker()
        run_id = plane.trigger(mode="chatty", seconds=RUN_SECONDS)
        wait_until(lambda: plane.state(run_id) == "RUNNING", timeout=120, what="the run to be RUNNING")

        own_postgres.stop()
        began = time.monotonic()
        assert plane.call(f"/api/v1/runs/{run_id}/")[0] == 503
        wait_until(lambda: time.monotonic() - began >= OUTAGE_SECONDS, timeout=OUTAGE_SECONDS + 5,
                   what="the outage's minute", every=1)
        own_postgres.start()

        wait_until(lambda: plane.state(run_id) in ("SUCCEEDED", "FAILED", "CRASHED"), timeout=120, what="the end")
        assert plane.state(run_id) == "SUCCEEDED"
        lines = plane.log_lines(run_id)
        assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1)), "no gap and no duplicate"
        chatty = [line["message"] for line in lines if line["message"].startswith("chatty line")]
        assert chatty == [f"chatty line {number}" for number in range(RUN_SECONDS * 10)]
    finally:
        plane.stop(docker_client)
