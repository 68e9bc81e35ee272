"""R9 (the workers' part): both Celery workers are restarted one after the other while runs are in flight, and a
container of a run Flowyard has no row for (an orphan) runs on the engine. Every run ends SUCCEEDED once; the
orphan is stopped by the reconciler and reported in the audit log."""

from __future__ import annotations

import uuid

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import WorkerProcess, behaviours_image, running_platform, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")


def orphan_exists(docker_client, container_id: str) -> bool:  # noqa: F811
    """Whether the orphan container is still there (the reconciler removes it once it has exited)."""
    return bool(docker_client.containers.list(all=True, filters={"id": container_id}))


def start_orphan(docker_client, image: str, installation_id: str):  # noqa: F811
    """A container labelled as this installation's workload of a run that does not exist."""
    from controlplane.runtimes.backends.base import INSTALLATION_LABEL, MANAGED_LABEL, RUN_LABEL, workload_name

    run_id = str(uuid.uuid4())
    return run_id, docker_client.containers.run(
        image, entrypoint=["python", "-c", "import time; time.sleep(600)"], name=workload_name(run_id), detach=True,
        labels={MANAGED_LABEL: "true", RUN_LABEL: run_id, INSTALLATION_LABEL: installation_id},
        network_mode="host", user="10001", read_only=True)


def test_restarting_both_workers_with_runs_in_flight_loses_no_run_and_stops_the_orphan(
        live_server, behaviours_image, docker_client, tmp_path):  # noqa: F811
    from controlplane.core.models import AuditEvent
    from controlplane.runs.models import Run
    from controlplane.runtimes.installation import current_installation_id

    orphan = None
    with running_platform(live_server, behaviours_image, docker_client, tmp_path) as platform:
        second = WorkerProcess(platform.worker.env, tmp_path / "worker-2.log").start()
        try:
            deployment = platform.deploy()
            runs = [platform.trigger(deployment, mode="sleep", seconds=15) for _ in range(3)]
            for run_id in runs:
                platform.wait_for(run_id, "RUNNING")
            orphan_id, orphan = start_orphan(docker_client, platform.image[0], current_installation_id())

            platform.worker.stop()  # rolling: one worker at a time, the other keeps serving
            platform.worker = WorkerProcess(platform.worker.env, tmp_path / "worker-1b.log").start()
            second.stop()
            second = WorkerProcess(platform.worker.env, tmp_path / "worker-2b.log").start()

            assert [platform.wait_for(run_id, *ENDED, timeout=120)["state"] for run_id in runs] == ["SUCCEEDED"] * 3
            for run_id in runs:
                assert platform.logs(run_id).count("first line of user code") == 1
            assert not Run.objects.filter(retry_of__in=runs).exists()

            def orphan_stopped() -> bool:  # stopped, or already removed once it exited
                return not docker_client.containers.list(filters={"id": orphan.id, "status": "running"})
            wait_until(orphan_stopped, timeout=60, what="the reconciler to stop the orphan container")
            event = AuditEvent.objects.get(action="run.orphan_stopped", object_id=orphan_id)
            assert event.actor_label == "reconciler" and event.after["runtime_target"] == "local-docker"
        finally:
            second.stop()
            if orphan is not None and orphan_exists(docker_client, orphan.id):
                orphan.remove(force=True)
