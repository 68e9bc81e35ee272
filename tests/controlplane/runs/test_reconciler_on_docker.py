"""The reconciler against real Docker: what a run's record keeps of its container, and whose containers it removes.

The run's container is launched through the same backend instance the reconciler uses (as the worker's launcher
does), with a small Python program instead of the runner; the run's state changes are what the runner would
report. Every container a test makes is removed afterwards. Waits poll with a deadline.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone
from docker.errors import NotFound

from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.runs.reconciler import reconcile_once
from controlplane.runtimes.backends.base import LaunchSpec, workload_name
from controlplane.runtimes.backends.docker import DockerBackend
from controlplane.runtimes.installation import current_installation_id
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import backend_of
from flowyard_spec.states import RunState
from flowyard_testkit.docker_env import docker_client, runtime_image  # noqa: F401

MIB = 1024 * 1024
SLEEPER = "import time; time.sleep(60)"


@pytest.fixture
def installation(settings):
    """This test's own installation id (so that no other test session's containers are ever touched)."""
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"installation_id": f"test-{uuid.uuid4().hex[:12]}"})
    current_installation_id.cache_clear()
    yield settings.FLOWYARD.installation_id
    current_installation_id.cache_clear()


@pytest.fixture
def on_docker(tenant_a, installation):
    """Tenant A's test environment launches on the local Docker engine; its backend, as the reconciler gets it."""
    target = RuntimeTarget.objects.create(name="local-docker", kind="docker", settings={"network_mode": "host"})
    tenant_a.test_env.runtime = target
    tenant_a.test_env.save()
    return backend_of(target)


@pytest.fixture
def containers(docker_client):  # noqa: F811
    """`containers.track(run_id)`: force-removes the run's container after the test."""

    class Tracker:
        ids: list[str] = []

        def track(self, run_id: str) -> str:
            self.ids.append(run_id)
            return run_id

    tracker = Tracker()
    yield tracker
    for run_id in tracker.ids:
        try:
            docker_client.containers.get(workload_name(run_id)).remove(force=True)
        except NotFound:
            pass


def launch(backend, run_id: str, image: str, code: str, memory_mib: int = 256) -> None:
    """Start `python -c CODE` as the run's container."""
    backend.launch(LaunchSpec(run_id=run_id, image=image, environment={}, cpu_units=512, memory_mib=memory_mib,
                              labels={}, command=["python", "-c", code]))


def started(run: Run) -> Run:
    """The run as its runner's first report leaves it: RUNNING."""
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING, started_at=timezone.now(),
                                         heartbeat_at=timezone.now())
    return Run.objects.get(pk=run.pk)


def reconcile_until(probe, what: str, timeout: float = 40.0):
    """Reconcile until `probe()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        reconcile_once(launch=lambda run_id: None)
        time.sleep(0.2)
    return value


def container_exists(docker_client, run_id: str) -> bool:  # noqa: F811
    """Whether the run's container is still there."""
    try:
        docker_client.containers.get(workload_name(run_id))
    except NotFound:
        return False
    return True


def test_a_run_its_runner_ended_keeps_exit_code_0_and_its_peak_memory(tenant_a, on_docker, containers,
                                                                      runtime_image, docker_client):  # noqa: F811
    run = started(tenant_a.run)
    code = "b = bytearray(64 * 1024 * 1024); import time; time.sleep(1.5)"
    launch(on_docker, containers.track(str(run.pk)), runtime_image, code)
    lifecycle.transition(run, RunState.SUCCEEDED)  # the runner reports the end before its container exits
    run.save()
    reconcile_until(lambda: not container_exists(docker_client, str(run.pk)), "the finished run's container removed")
    run.refresh_from_db()
    assert (run.state, run.exit_code) == ("SUCCEEDED", 0)
    assert run.peak_memory_bytes >= 64 * MIB and run.cpu_seconds > 0


def test_an_oom_killed_run_records_a_peak_close_to_its_limit(tenant_a, on_docker, containers, runtime_image):  # noqa: F811
    run = started(tenant_a.run)
    code = "import time; time.sleep(1); b = bytearray(400 * 1024 * 1024); time.sleep(5)"
    launch(on_docker, containers.track(str(run.pk)), runtime_image, code, memory_mib=256)
    reconcile_until(lambda: Run.objects.get(pk=run.pk).is_terminal, "the run ending")
    run.refresh_from_db()
    assert (run.state, run.reason, run.exit_code) == ("FAILED", "oom_killed", 137)
    assert 0.9 * 256 * MIB <= run.peak_memory_bytes <= 256 * MIB


def test_another_installations_container_survives_while_an_unknown_one_of_ours_is_removed(
        on_docker, containers, runtime_image, docker_client):  # noqa: F811
    ours, foreign = containers.track(str(uuid.uuid4())), containers.track(str(uuid.uuid4()))
    neighbour = DockerBackend(settings={"network_mode": "host"}, installation_id="a-neighbouring-installation")
    try:
        launch(neighbour, foreign, runtime_image, SLEEPER)
        launch(on_docker, ours, runtime_image, SLEEPER)
        reconcile_until(lambda: not container_exists(docker_client, ours), "our unknown container removed")
        reconcile_once(launch=lambda run_id: None)
        assert docker_client.containers.get(workload_name(foreign)).status == "running"
    finally:
        neighbour.close()
