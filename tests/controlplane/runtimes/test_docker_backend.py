"""The docker runtime backend against the real Docker engine and the runtime image (flowyard/runtime:dev).

Every container a test makes is named after a fresh run id and removed by the `run_id` fixture, also when the
test fails. Waits poll the engine with a deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import contextlib

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from docker.errors import NotFound

from controlplane.runtimes.backends.base import (
    ENVIRONMENT_LABEL,
    MANAGED_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    LaunchFailed,
    LaunchSpec,
    RuntimeStatus,
    TargetUnavailable,
    WorkloadState,
    workload_name,
)
from controlplane.runtimes.backends.docker import DockerBackend
from controlplane.runtimes.backends.docker.config import DockerSettingsError
from controlplane.runtimes.backends.registry import backend_for
from flowyard_testkit.docker_env import docker_client, registry, runtime_image  # noqa: F401

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
TRAPS_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
IGNORES_SIGTERM = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture(autouse=True)
def _database():
    """The backend knows nothing of Django models: these tests need no database."""


@pytest.fixture
def backend(docker_client):  # noqa: F811
    """A docker backend on the local engine with the default settings."""
    instance = DockerBackend(settings={})
    yield instance
    instance.close()


@pytest.fixture
def run_id(docker_client):  # noqa: F811
    """`run_id()` is a fresh run id; every container of every such run is force-removed after the test."""
    made: list[str] = []

    def new() -> str:
        made.append(f"test-{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield new
    for value in made:
        for container in docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={value}"},
                                                       ignore_removed=True):
            container.remove(force=True)
        try:
            docker_client.containers.get(workload_name(value)).remove(force=True)
        except NotFound:
            pass


def spec_for(run: str, image: str, code: str | None = None, *, memory_mib: int = 128, **changes) -> LaunchSpec:
    """A launch spec for `run`; `code` (if given) is run as `python -c CODE` instead of the runner."""
    values = {
        "run_id": run, "image": image, "environment": {"FLOWYARD_RUN_ID": run, "GREETING": "hello"},
        "cpu_units": 256, "memory_mib": memory_mib, "labels": {PROJECT_LABEL: "alpha", ENVIRONMENT_LABEL: "test"},
        "command": ["python", "-c", code] if code is not None else None,
    }
    return LaunchSpec(**{**values, **changes})


def wait_for(probe, what: str, timeout: float = 20.0):
    """Call `probe()` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(0.05)


def wait_exited(backend: DockerBackend, run: str, timeout: float = 20.0) -> RuntimeStatus:
    """The run's status once its container has exited."""
    return wait_for(lambda: (s := backend.inspect(run)).state is WorkloadState.EXITED and s, f"{run} exiting", timeout)


def wait_ready(backend: DockerBackend, run: str) -> None:
    """Wait until the run's workload printed `ready` (its signal handlers are installed by then)."""
    wait_for(lambda: any(line.message == "ready" for line in backend.logs(run)), f"{run} printing ready")


def containers_of(client, run: str) -> list:
    """Every container (any state) labelled with the run id."""
    return client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run}"}, ignore_removed=True)


# -- launch: idempotent ------------------------------------------------------------------------------------


def test_launching_twice_makes_one_container(backend, run_id, runtime_image, docker_client):  # noqa: F811
    run = run_id()
    spec = spec_for(run, runtime_image, SLEEPER)
    first = backend.launch(spec)
    assert backend.launch(spec) == first
    assert DockerBackend(settings={}).launch(spec) == first  # a second worker process: same answer
    assert [c.id for c in containers_of(docker_client, run)] == [first]
    assert backend.inspect(run).state is WorkloadState.RUNNING


@pytest.mark.parametrize("instances", ["one backend", "one backend per thread"])
def test_concurrent_launches_make_one_container(instances, run_id, runtime_image, docker_client):  # noqa: F811
    shared = DockerBackend(settings={})
    for _round in range(3):
        run = run_id()
        spec = spec_for(run, runtime_image, SLEEPER)
        barrier = threading.Barrier(2)
        backends = [shared, shared] if instances == "one backend" else [DockerBackend(settings={}) for _ in range(2)]

        def launch(backend: DockerBackend) -> str:
            barrier.wait(timeout=10)
            return backend.launch(spec)

        with ThreadPoolExecutor(max_workers=2) as pool:
            ids = list(pool.map(launch, backends))
        assert ids[0] == ids[1]
        containers = containers_of(docker_client, run)
        assert [c.id for c in containers] == [ids[0]]
        containers[0].reload()
        assert containers[0].status == "running"


def test_launch_again_after_exit_does_not_run_it_twice(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    spec = spec_for(run, runtime_image, "print('once')")
    ref = backend.launch(spec)
    first = wait_exited(backend, run)
    assert backend.launch(spec) == ref
    assert backend.inspect(run).started_at == first.started_at
    assert [line.message for line in backend.logs(run)] == ["once"]


# -- the container is locked down --------------------------------------------------------------------------


def test_container_is_non_root_limited_read_only_and_mounts_nothing(backend, run_id, runtime_image, docker_client):  # noqa: F811
    run = run_id()
    ref = backend.launch(spec_for(run, runtime_image, SLEEPER, pids_limit=100))
    attrs = docker_client.api.inspect_container(ref)
    host = attrs["HostConfig"]
    assert attrs["Name"] == f"/{workload_name(run)}"
    assert attrs["Config"]["User"] == "10001:10001"
    assert host["Memory"] == 128 * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]  # no swap
    assert host["NanoCpus"] == 250_000_000  # 256 cpu units = 1/4 cpu
    assert host["PidsLimit"] == 100
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert not host.get("CapAdd") and host["Privileged"] is False
    assert host["NetworkMode"] == "host" and host["Init"] is True
    assert attrs["Mounts"] == [] and not host.get("Binds") and not host.get("Mounts") and not host.get("Devices")
    assert "docker.sock" not in json.dumps(attrs)
    assert set(host["Tmpfs"]) == {"/tmp", "/home/flowyard"}
    labels = attrs["Config"]["Labels"]
    assert labels[MANAGED_LABEL] == "true" and labels[RUN_LABEL] == run and labels[PROJECT_LABEL] == "alpha"
    assert "GREETING=hello" in attrs["Config"]["Env"]
    assert "FLOWYARD_CACHE_DIR=/tmp/flowyard-cache" in attrs["Config"]["Env"]
    assert attrs["Config"]["Entrypoint"] == ["python"] and attrs["Config"]["Cmd"] == ["-c", SLEEPER]
    assert attrs["Config"]["StopTimeout"] == 10  # stop_grace_seconds: also what a plain `docker stop` waits
    assert host["RestartPolicy"]["Name"] in ("", "no")  # the engine never runs a workflow again by itself


def test_runs_of_one_environment_share_its_result_volume_and_nothing_else_is_mounted(
        backend, run_id, runtime_image, docker_client):  # noqa: F811
    scope = f"test-{uuid.uuid4().hex[:12]}"
    volume = f"flowyard-results-{scope}"
    write = "import pathlib; pathlib.Path('/var/lib/flowyard/results/answer').write_text('42'); print('written')"
    read = "import pathlib; print('read', pathlib.Path('/var/lib/flowyard/results/answer').read_text())"
    try:
        first, second = run_id(), run_id()
        ref = backend.launch(spec_for(first, runtime_image, write, result_scope=scope))
        attrs = docker_client.api.inspect_container(ref)
        assert [(m["Type"], m["Name"], m["Destination"], m["RW"]) for m in attrs["Mounts"]] == [
            ("volume", volume, "/var/lib/flowyard/results", True)]
        assert not attrs["HostConfig"].get("Binds")
        assert "FLOWYARD_RESULT_DIR=/var/lib/flowyard/results" in attrs["Config"]["Env"]
        wait_for(lambda: backend.inspect(first).state == WorkloadState.EXITED, "the writer to exit")
        assert backend.inspect(first).exit_code == 0, [line.message for line in backend.logs(first)]
        backend.launch(spec_for(second, runtime_image, read, result_scope=scope))
        wait_for(lambda: backend.inspect(second).state == WorkloadState.EXITED, "the reader to exit")
        assert [line.message for line in backend.logs(second)] == ["read 42"]
    finally:
        for made in docker_client.containers.list(all=True, filters={"volume": volume}):
            made.remove(force=True)
        try:
            docker_client.volumes.get(volume).remove(force=True)
        except NotFound:
            pass


def test_a_deleted_environments_result_volume_is_removed_once_no_container_of_it_is_left(
        backend, run_id, runtime_image, docker_client):  # noqa: F811
    scope = f"test-{uuid.uuid4().hex[:12]}"
    volume = f"flowyard-results-{scope}"
    run = run_id()
    try:
        backend.launch(spec_for(run, runtime_image, SLEEPER, result_scope=scope))
        with pytest.raises(TargetUnavailable, match=f"{volume} is still in use"):
            backend.result_store_remove(scope)  # a run of the environment still exiting: asked again later
        assert docker_client.volumes.get(volume)
        for made in docker_client.containers.list(all=True, filters={"volume": volume}):
            made.remove(force=True)
        backend.result_store_remove(scope)
        with pytest.raises(NotFound):
            docker_client.volumes.get(volume)
        backend.result_store_remove(scope)  # already gone: nothing to do, no error
    finally:
        for made in docker_client.containers.list(all=True, filters={"volume": volume}):
            made.remove(force=True)
        with contextlib.suppress(NotFound):
            docker_client.volumes.get(volume).remove(force=True)


@pytest.mark.parametrize("mount", [
    {"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/lib/flowyard/results"},
    {"Type": "volume", "Source": "someone-elses-volume", "Target": "/var/lib/flowyard/results"},
    {"Type": "volume", "Source": "flowyard-results-x", "Target": "/etc"},
])
def test_any_other_mount_is_refused_before_a_container_is_made(mount):
    from controlplane.runtimes.backends.docker.mapping import assert_nothing_mounted

    with pytest.raises(LaunchFailed, match="only the environment's result-store volume"):
        assert_nothing_mounted({"read_only": True, "mounts": [mount]})


def test_without_a_command_the_image_entrypoint_runs(backend, run_id, runtime_image, docker_client):  # noqa: F811
    run = run_id()
    attrs = docker_client.api.inspect_container(backend.launch(spec_for(run, runtime_image)))
    assert attrs["Config"]["Entrypoint"] == ["python", "-m", "flowyard", "run"]
    assert not attrs["Config"]["Cmd"]


def test_the_workload_runs_as_10001_on_a_read_only_root_with_writable_tmp_and_home(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    code = (
        "import os, pathlib\n"
        "print('uid', os.getuid(), os.getgid())\n"
        "cache = pathlib.Path(os.environ['FLOWYARD_CACHE_DIR']); cache.mkdir(parents=True); (cache / 'x').write_text('1')\n"
        "pathlib.Path.home().joinpath('x').write_text('1')\n"
        "try:\n    open('/workflow/x', 'w')\nexcept OSError as exc:\n    print('root write refused', exc.errno)\n"
        "print('greeting', os.environ['GREETING'])\n"
    )
    backend.launch(spec_for(run, runtime_image, code))
    status = wait_exited(backend, run)
    messages = [line.message for line in backend.logs(run)]
    assert status.exit_code == 0, messages
    assert messages == ["uid 10001 10001", "root write refused 30", "greeting hello"]  # 30: EROFS


def test_settings_that_would_mount_anything_or_run_as_root_are_refused():
    for settings in ({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}, {"mounts": []}, {"binds": {}},
                     {"devices": ["/dev/kmsg"]}, {"privileged": True}):
        with pytest.raises(DockerSettingsError, match="nothing is ever mounted"):
            DockerBackend(settings=settings)
    with pytest.raises(DockerSettingsError, match="non-root"):
        DockerBackend(settings={"user": "0:0"})
    with pytest.raises(DockerSettingsError, match="'colour'"):
        DockerBackend(settings={"colour": "blue"})
    with pytest.raises(DockerSettingsError, match="tmpfs_size"):
        DockerBackend(settings={"tmpfs_size": "1m,exec"})
    with pytest.raises(DockerSettingsError, match=r"hosts\[0\]\.tls"):
        DockerBackend(settings={"hosts": [{"base_url": "tcp://127.0.0.1:2376", "tls": {"client_cert": "c.pem"}}]})
    assert backend_for("docker", {"stop_grace_seconds": 3}).config.stop_grace_seconds == 3


# -- how runs end ------------------------------------------------------------------------------------------


def test_out_of_memory_is_exit_137_with_oom_killed(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    code = "b = bytearray(400 * 1024 * 1024); import time; time.sleep(5)"
    backend.launch(spec_for(run, runtime_image, code, memory_mib=64))
    status = wait_exited(backend, run)
    assert (status.exit_code, status.oom_killed) == (137, True)
    assert status.started_at and status.finished_at and status.finished_at >= status.started_at


def test_a_plain_kill_is_exit_137_without_oom_killed(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    backend.launch(spec_for(run, runtime_image, SLEEPER))
    wait_ready(backend, run)
    asked = time.monotonic()
    running = backend.inspect(run)
    assert time.monotonic() - asked < 0.5  # usage is sampled in the background, never in the caller's time
    assert running.state is WorkloadState.RUNNING and running.exit_code is None
    # The engine answers a stats request at its next collection tick: poll until a sample is reported.
    sampled = wait_for(lambda: (s := backend.inspect(run)).peak_memory_bytes and s, "a usage sample", timeout=10)
    assert sampled.peak_memory_bytes > 1024 * 1024 and sampled.cpu_seconds > 0
    backend.kill(run)
    status = wait_exited(backend, run, timeout=10)
    assert (status.exit_code, status.oom_killed) == (137, False)
    assert status.peak_memory_bytes >= sampled.peak_memory_bytes  # the highest sample, kept after exit
    assert status.cpu_seconds >= sampled.cpu_seconds
    backend.kill(run)  # killing an exited container is fine


def test_terminate_of_a_workload_that_traps_sigterm_exits_0_quickly(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    backend.launch(spec_for(run, runtime_image, TRAPS_SIGTERM))
    wait_ready(backend, run)
    asked = time.monotonic()
    backend.terminate(run, grace_seconds=30)
    assert time.monotonic() - asked < 2  # the request does not wait for the grace period
    status = wait_exited(backend, run, timeout=10)
    assert status.exit_code == 0 and not status.oom_killed
    assert time.monotonic() - asked < 10
    backend.terminate(run, grace_seconds=30)  # terminating an exited container is fine


def test_terminate_of_a_workload_that_ignores_sigterm_kills_it_after_the_grace(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    backend.launch(spec_for(run, runtime_image, IGNORES_SIGTERM))
    wait_ready(backend, run)
    asked = time.monotonic()
    backend.terminate(run, grace_seconds=1)
    assert time.monotonic() - asked < 0.9
    backend.terminate(run, grace_seconds=1)  # asked again within the grace: nothing more happens yet
    assert backend.inspect(run).state is WorkloadState.RUNNING
    status = wait_exited(backend, run, timeout=10)
    assert time.monotonic() - asked >= 1
    assert (status.exit_code, status.oom_killed) == (137, False)


# -- logs, listing, removal --------------------------------------------------------------------------------


def test_logs_keep_stdout_and_stderr_apart_in_order(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    code = (
        "import sys, time\n"
        "for n in range(1, 4):\n"
        "    print(f'out {n}'); time.sleep(0.05)\n"  # spaced so the engine stamps the two pipes in this order
        "    print(f'err {n}', file=sys.stderr); time.sleep(0.05)\n"
        "print(''); print('last words, no newline', end='')\n"
    )
    backend.launch(spec_for(run, runtime_image, code))
    assert wait_exited(backend, run).exit_code == 0
    lines = list(backend.logs(run))
    assert [(line.stream, line.message) for line in lines] == [
        ("stdout", "out 1"), ("stderr", "err 1"), ("stdout", "out 2"), ("stderr", "err 2"),
        ("stdout", "out 3"), ("stderr", "err 3"), ("stdout", ""), ("stdout", "last words, no newline"),
    ]
    assert all(line.at.tzinfo is not None for line in lines)
    assert [line.at for line in lines] == sorted(line.at for line in lines)


def test_list_workloads_finds_a_launched_container_by_run_id(backend, run_id, runtime_image):  # noqa: F811
    run, other = run_id(), run_id()
    ref = backend.launch(spec_for(run, runtime_image, SLEEPER))
    backend.launch(spec_for(other, runtime_image, "pass"))
    wait_exited(backend, other)
    workloads = DockerBackend(settings={}).list_workloads()  # e.g. after a control plane restart
    assert workloads[run].ref == ref and workloads[run].state is WorkloadState.RUNNING
    assert workloads[other].state is WorkloadState.EXITED and workloads[other].exit_code == 0


def test_remove_makes_it_missing_and_unknown_runs_are_missing(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    backend.launch(spec_for(run, runtime_image, SLEEPER))
    backend.remove(run)
    assert backend.inspect(run).state is WorkloadState.MISSING
    assert run not in backend.list_workloads()
    unknown = f"never-launched-{uuid.uuid4().hex[:8]}"
    assert backend.inspect(unknown) == RuntimeStatus(state=WorkloadState.MISSING)
    assert list(backend.logs(unknown)) == []
    for method in (backend.remove, backend.kill, lambda r: backend.terminate(r, grace_seconds=1)):
        method(run)
        method(unknown)


# -- failures ----------------------------------------------------------------------------------------------


def test_an_image_that_does_not_exist_is_an_image_error(backend, run_id, registry, docker_client):  # noqa: F811
    run = run_id()
    missing = f"{registry}/flowyard-test/missing-{uuid.uuid4().hex[:8]}:t1"
    with pytest.raises(LaunchFailed) as failure:
        backend.launch(spec_for(run, missing))
    assert failure.value.image_error is True
    assert containers_of(docker_client, run) == []


def test_an_entrypoint_that_cannot_be_executed_is_an_image_error(backend, run_id, runtime_image):  # noqa: F811
    # docker-init (init=True) is what the engine starts, so `start` succeeds and docker-init's exec fails: the
    # container ends 127 and inspect reports the image error with docker-init's words.
    run = run_id()
    spec = LaunchSpec(run_id=run, image=runtime_image, environment={}, cpu_units=256, memory_mib=64, labels={},
                      command=["/no/such/program", "--flag"])
    ref = backend.launch(spec)
    status = wait_exited(backend, run)
    assert (status.exit_code, status.image_error) == (127, True)
    assert "exec /no/such/program failed: No such file or directory" in status.message
    assert backend.launch(spec) == ref  # launching again starts nothing new
    assert DockerBackend(settings={}).inspect(run).image_error  # another instance reads the same story
    not_executable = spec_for(run_id(), runtime_image, None, command=["/etc/hostname"])
    backend.launch(not_executable)
    status = wait_exited(backend, not_executable.run_id)
    assert (status.exit_code, status.image_error) == (126, True) and "Permission denied" in status.message


def test_a_workflow_that_exits_127_itself_is_not_an_image_error(backend, run_id, runtime_image):  # noqa: F811
    run = run_id()
    backend.launch(spec_for(run, runtime_image, "import sys; print('exec x failed: no', file=sys.stderr); sys.exit(127)"))
    status = wait_exited(backend, run)
    assert (status.exit_code, status.image_error, status.message) == (127, False, "")


def test_an_engine_that_does_not_answer_is_target_unavailable(runtime_image):  # noqa: F811
    silent = DockerBackend(settings={"hosts": [{"base_url": "tcp://127.0.0.1:1"}], "api_timeout_seconds": 5})
    with pytest.raises(TargetUnavailable):
        silent.inspect("anything")
    with pytest.raises(TargetUnavailable):
        silent.launch(spec_for("anything", runtime_image))
    with pytest.raises(TargetUnavailable):
        silent.list_workloads()


def test_with_one_host_silent_a_run_is_found_on_the_other_but_never_called_missing(run_id, runtime_image):  # noqa: F811
    run = run_id()
    local = DockerBackend(settings={})
    local.launch(spec_for(run, runtime_image, SLEEPER))
    hosts = [{"base_url": "tcp://127.0.0.1:1"}, {"base_url": "unix:///var/run/docker.sock"}]
    both = DockerBackend(settings={"hosts": hosts, "api_timeout_seconds": 5})
    assert both.inspect(run).state is WorkloadState.RUNNING
    with pytest.raises(TargetUnavailable):  # it may be on the silent host: not MISSING
        both.inspect(f"elsewhere-{uuid.uuid4().hex[:8]}")
    fresh = DockerBackend(settings={"hosts": hosts, "api_timeout_seconds": 5})
    with pytest.raises(TargetUnavailable):  # a launch that first finds a host silent waits: the run may be there
        fresh.launch(spec_for(run_id(), runtime_image, SLEEPER))
    # The silent host is now marked unhealthy: launches pass it over for a while (tests/controlplane/runtimes/
    # test_docker_placement.py), while inspect still refuses to call anything MISSING.
    assert both.launch(spec_for(run_id(), runtime_image, SLEEPER))
