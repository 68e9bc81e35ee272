"""The docker backend's usage figures and installation labels, against the real engine and the runtime image.

Usage: a run's peak memory is its high-water mark (not its last sample), also for a run that ends within a
second of its launch, runs followed at once each keep their own, and an OOM-killed run's peak is its memory limit.
Installations: a backend lists only the containers of its own installation. Waits poll with a deadline; every container is removed after the test.
"""

from __future__ import annotations

import time
import uuid

import pytest
from docker.errors import NotFound

from controlplane.runtimes.backends.base import (
    INSTALLATION_LABEL,
    RUN_LABEL,
    LaunchSpec,
    RuntimeStatus,
    WorkloadState,
    workload_name,
)
from controlplane.runtimes.backends.docker import DockerBackend
from flowyard_testkit.docker_env import docker_client, runtime_image  # noqa: F401

MIB = 1024 * 1024
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


@pytest.fixture(autouse=True)
def _database():
    """The backend knows nothing of Django models: these tests need no database."""


@pytest.fixture
def backends(docker_client):  # noqa: F811
    """`backends(installation_id)` is a docker backend on the local engine; all are closed after the test."""
    made: list[DockerBackend] = []

    def new(installation_id: str = "") -> DockerBackend:
        made.append(DockerBackend(settings={}, installation_id=installation_id))
        return made[-1]

    yield new
    for backend in made:
        backend.close()


@pytest.fixture
def run_id(docker_client):  # noqa: F811
    """`run_id()` is a fresh run id; its container is force-removed after the test."""
    made: list[str] = []

    def new() -> str:
        made.append(f"test-{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield new
    for value in made:
        try:
            docker_client.containers.get(workload_name(value)).remove(force=True)
        except NotFound:
            pass


def spec_for(run: str, image: str, code: str, *, memory_mib: int = 256) -> LaunchSpec:
    """A spec that runs `python -c CODE` in the runtime image."""
    return LaunchSpec(run_id=run, image=image, environment={"FLOWYARD_RUN_ID": run}, cpu_units=512,
                      memory_mib=memory_mib, labels={}, command=["python", "-c", code])


def wait_exited(backend: DockerBackend, run: str, timeout: float = 30.0) -> RuntimeStatus:
    """The run's status once its container has exited; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (status := backend.inspect(run)).state is not WorkloadState.EXITED:
        if time.monotonic() > deadline:
            pytest.fail(f"{run} did not exit within {timeout} s (last: {status})")
        time.sleep(0.05)
    return status


def test_a_short_run_reports_its_high_water_mark_not_its_last_usage(backends, run_id, runtime_image):  # noqa: F811
    backend, run = backends(), run_id()
    code = "b = bytearray(96 * 1024 * 1024); del b; import time; time.sleep(0.5)"  # 96 MiB touched, then freed
    backend.launch(spec_for(run, runtime_image, code))
    status = wait_exited(backend, run)
    assert status.exit_code == 0
    assert status.peak_memory_bytes is not None and status.peak_memory_bytes >= 96 * MIB
    assert status.cpu_seconds and status.cpu_seconds > 0


def test_runs_followed_at_once_each_report_their_own_peak_including_one_launched_after_the_others_ended(
        backends, run_id, runtime_image):  # noqa: F811
    backend = backends()
    sizes = {run_id(): mib for mib in (40, 120)}
    for run, mib in sizes.items():
        backend.launch(spec_for(run, runtime_image, f"b = bytearray({mib} * 1024 * 1024); del b; import time; time.sleep(1)"))
    peaks = {run: wait_exited(backend, run).peak_memory_bytes for run in sizes}
    later = run_id()  # the monitor followed nothing for a moment: it must follow this one too
    backend.launch(spec_for(later, runtime_image, "b = bytearray(80 * 1024 * 1024); del b; import time; time.sleep(0.5)"))
    peaks[later], sizes[later] = wait_exited(backend, later).peak_memory_bytes, 80
    for run, mib in sizes.items():
        assert peaks[run] is not None and mib * MIB <= peaks[run] < (mib + 60) * MIB, (mib, peaks[run])


def test_an_oom_killed_run_reports_a_peak_at_its_memory_limit(backends, run_id, runtime_image):  # noqa: F811
    backend, run = backends(), run_id()
    code = "import time; time.sleep(1); b = bytearray(400 * 1024 * 1024); time.sleep(5)"
    backend.launch(spec_for(run, runtime_image, code, memory_mib=128))
    status = wait_exited(backend, run)
    assert (status.exit_code, status.oom_killed) == (137, True)
    assert 0.9 * 128 * MIB <= status.peak_memory_bytes <= 128 * MIB


def test_a_backend_lists_only_its_own_installations_containers(backends, run_id, runtime_image, docker_client):  # noqa: F811
    ours, theirs, unscoped = backends("ours"), backends("theirs"), backends()
    mine, foreign = run_id(), run_id()
    ours.launch(spec_for(mine, runtime_image, SLEEPER))
    theirs.launch(spec_for(foreign, runtime_image, SLEEPER))
    assert docker_client.containers.get(workload_name(mine)).labels[INSTALLATION_LABEL] == "ours"
    assert mine in ours.list_workloads() and foreign not in ours.list_workloads()
    assert foreign in theirs.list_workloads() and mine not in theirs.list_workloads()
    assert {mine, foreign} <= set(unscoped.list_workloads()), "a backend with no installation lists every one"
    assert ours.inspect(foreign).state is WorkloadState.RUNNING, "a run is still found by its id"
    assert docker_client.containers.get(workload_name(foreign)).labels[RUN_LABEL] == foreign


def test_a_containers_cgroup_is_found_beside_another_of_the_same_engine(docker_client, runtime_image):  # noqa: F811
    """The monitor asks the engine for the first container's process only; the next containers' cgroups are found
    at the same place with their own id: the same files as through their own process, and none once exited."""
    from controlplane.runtimes.backends.docker.cgroups import ContainerCgroup

    label = {"org.flowyard.test": f"cgroup-sibling-{uuid.uuid4().hex[:12]}"}
    first, second = (docker_client.containers.run(runtime_image, entrypoint=["python", "-c", SLEEPER], detach=True,
                                                  labels=label, mem_limit="64m") for _ in range(2))
    try:
        for container in (first, second):
            container.reload()
        seen = ContainerCgroup.of(first.attrs["State"]["Pid"], first.id)
        assert seen is not None, "the engine runs on this machine: its containers' cgroups are readable here"
        assert seen.sibling(second.id) == ContainerCgroup.of(second.attrs["State"]["Pid"], second.id)
        assert seen.sibling(second.id).read().cpu_seconds > 0
        second.kill()
        second.wait(timeout=30)
        assert seen.sibling(second.id) is None, "an exited container's cgroup is gone"
    finally:
        for container in (first, second):
            container.remove(force=True)
