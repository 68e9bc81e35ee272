"""Placement over two real Docker engines of the module's own (separate dockerd, containerd, data and sockets):
a run goes where its memory (and CPU, when bounded) fits with the most memory left, waits when no host has room,
and a host that stops answering is marked unhealthy and passed over by the next launch."""

from __future__ import annotations

import uuid

import pytest

from controlplane.runtimes.backends.base import LaunchSpec, TargetUnavailable, workload_name
from controlplane.runtimes.backends.docker import DockerBackend
from flowyard_testkit.docker_engines import docker_engines
from flowyard_testkit.docker_env import docker_client, registry, runtime_image  # noqa: F401

SLEEPER = ["python", "-c", "import time; time.sleep(120)"]


@pytest.fixture(autouse=True)
def _database():
    """The backend knows nothing of Django models: these tests need no database."""


@pytest.fixture(scope="module")
def engines(runtime_image):  # noqa: F811
    """Two engines of this module's own, each with the runtime image."""
    with docker_engines("pa", "pb") as (first, second):
        for engine in (first, second):
            engine.load(runtime_image)
        yield first, second


@pytest.fixture
def backend_on(engines):
    """`backend_on(first_settings, second_settings)`: a backend over both engines; its containers removed after."""
    made: list[DockerBackend] = []

    def make(*host_settings: dict) -> DockerBackend:
        hosts = [{"base_url": engine.base_url, **extra} for engine, extra in zip(engines, host_settings, strict=True)]
        backend = DockerBackend(settings={"hosts": hosts, "network_mode": "host", "api_timeout_seconds": 5})
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
    for engine in engines:
        if engine.ping():
            for container in engine.client().containers.list(all=True):
                container.remove(force=True)


def launch(backend: DockerBackend, image: str, memory_mib: int = 256) -> str:
    run = f"place-{uuid.uuid4().hex[:10]}"
    backend.launch(LaunchSpec(run_id=run, image=image, environment={}, cpu_units=256, memory_mib=memory_mib,
                              labels={}, command=SLEEPER))
    return run


def where(engines, run: str) -> str:
    """The name of the engine the run's container is on."""
    (found,) = [engine.name for engine in engines
                if engine.client().containers.list(all=True, filters={"name": workload_name(run)})]
    return found


def test_runs_go_where_their_memory_fits_with_the_most_left_and_wait_when_no_host_has_room(
        engines, backend_on, runtime_image):  # noqa: F811
    backend = backend_on({"max_memory": "512m"}, {"max_memory": "768m"})
    first = launch(backend, runtime_image)  # 512 vs 768 free: the second engine
    assert where(engines, first) == "pb"
    second = launch(backend, runtime_image)  # 512 vs 512: a tie goes to the earlier host
    assert where(engines, second) == "pa"
    assert [where(engines, launch(backend, runtime_image)) for _ in range(3)] == ["pb", "pa", "pb"]
    with pytest.raises(TargetUnavailable) as full:  # 512 of 512 and 768 of 768 MiB reserved
        launch(backend, runtime_image)
    assert "no Docker host has room for 256 MiB" in str(full.value)
    assert "512 of 512 MiB" in str(full.value) and "768 of 768 MiB" in str(full.value)
    backend.kill(second)  # an exited container reserves nothing
    assert where(engines, launch(backend, runtime_image)) == "pa"


def test_a_cpu_bound_counts_the_cpu_limits_of_the_running_containers(engines, backend_on, runtime_image):  # noqa: F811
    backend = backend_on({"max_cpus": 0.5}, {"max_cpus": 0.25})
    assert [where(engines, launch(backend, runtime_image, memory_mib=64)) for _ in range(3)] == ["pa", "pb", "pa"]
    with pytest.raises(TargetUnavailable, match="0.5 of 0.5 CPUs"):
        launch(backend, runtime_image, memory_mib=64)


def test_a_host_that_stops_answering_holds_one_launch_then_is_passed_over(engines, backend_on, runtime_image):  # noqa: F811
    first, second = engines
    backend = backend_on({}, {})
    first.stop()
    try:
        with pytest.raises(TargetUnavailable, match="does not answer"):  # the run may be there: this attempt waits
            launch(backend, runtime_image)
        silent, answering = backend._hosts
        assert not silent.healthy and "does not answer" in silent.last_error and answering.healthy
        run = launch(backend, runtime_image)  # the next attempt passes the unhealthy host over
        assert where([second], run) == "pb"
        with pytest.raises(TargetUnavailable):  # ... but nothing is called missing while a host is silent
            backend.inspect(f"elsewhere-{uuid.uuid4().hex[:8]}")
    finally:
        first.start()
