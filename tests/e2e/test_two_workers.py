"""Two Celery worker processes (each with its own beat) on the real Redis broker: every run of a burst is launched
once and ends once, whatever worker takes its launch message, even when the message is sent three times."""

from __future__ import annotations

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import WorkerProcess, behaviours_image, running_platform  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 8
ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")


def test_a_burst_of_runs_over_two_workers_runs_each_once(live_server, behaviours_image, docker_client, tmp_path):  # noqa: F811
    from controlplane.runs.models import Run
    from controlplane.runs.tasks import launch_run

    with running_platform(live_server, behaviours_image, docker_client, tmp_path) as platform:
        second = WorkerProcess(platform.worker.env, tmp_path / "worker-2.log").start()
        try:
            deployment = platform.deploy()
            runs = [platform.trigger(deployment, mode="sleep", seconds=1) for _ in range(BURST)]
            for run_id in runs[:3]:  # redelivered launch messages, to whichever worker
                launch_run.delay(run_id)
                launch_run.delay(run_id)
            ended = [platform.wait_for(run_id, *ENDED, timeout=180)["state"] for run_id in runs]
            assert ended == ["SUCCEEDED"] * BURST
            for run_id in runs:
                assert platform.logs(run_id).count("first line of user code") == 1, f"{run_id} ran twice"
            assert not Run.objects.filter(retry_of__in=runs).exists()
            assert second.process.poll() is None and platform.worker.process.poll() is None
        finally:
            second.stop()
