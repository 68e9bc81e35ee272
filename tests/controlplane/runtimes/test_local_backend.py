"""The `local` runtime backend with real processes: launch once, exit codes, stop, vanish, re-attach, limits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.runtimes.backends.base import LaunchFailed, LaunchSpec, RuntimeStatus, WorkloadState
from controlplane.runtimes.backends.local import VANISHED, LocalBackend
from controlplane.runtimes.backends.local import supervisor as sup
from controlplane.runtimes.backends.local.processes import is_supervisor_of
from controlplane.runtimes.backends.registry import backend_for


# -- helpers ----------------------------------------------------------------------------------------------

def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def wait_state(backend: LocalBackend, run_id: str, state: WorkloadState, timeout: float = 30) -> RuntimeStatus:
    """The run's status once it reaches `state`."""
    def check():
        status = backend.inspect(run_id)
        return status if status.state is state else None
    return wait_for(check, timeout, f"run {run_id} to be {state}")


def wait_log(backend: LocalBackend, run_id: str, text: str, timeout: float = 30) -> None:
    """Wait until a log line of the run contains `text`."""
    wait_for(lambda: any(text in line.message for line in backend.logs(run_id)), timeout, f"log line {text!r}")


def process_gone(pid: int) -> bool:
    """True when `pid` does not exist any more (or is a zombie waiting to be reaped)."""
    return sup.process_start_ticks(pid) is None


def write_workflow(directory: Path, source: str, name: str = "pipeline") -> Path:
    """A workflow source directory: flowyard.json and workflow.py."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flowyard.json").write_text(json.dumps({"name": name}))
    (directory / "workflow.py").write_text(textwrap.dedent(source))
    return directory


def spec_for(run_id: str, source: Path | str, *, command: list[str] | None = None, memory_mib: int = 512,
             environment: dict[str, str] | None = None, secret_names: frozenset[str] = frozenset()) -> LaunchSpec:
    image = source if isinstance(source, str) else f"file://{source}"
    return LaunchSpec(run_id=run_id, image=image, environment=environment or {}, cpu_units=256,
                      memory_mib=memory_mib, labels={"org.flowyard.run": run_id}, command=command,
                      secret_names=secret_names)


HELLO = """
    import os
    from flowyard import flow, task

    @task
    def hello(name):
        print(f"hello {name} from {os.getcwd()}")
        with open(os.environ["COUNTER"], "a") as counter:
            counter.write("ran\\n")
        with open("written-by-the-run.txt", "w") as out:
            out.write("x")

    @flow
    def pipeline():
        print("home is " + os.environ["HOME"])
        print("secret is " + os.environ.get("API_KEY", "-") + "; leak is " + os.environ.get("FLOWYARD_LEAK", "-"))
        hello("world")
"""

LOOPS = """
    import time
    from flowyard import flow

    @flow
    def pipeline():
        print("looping", flush=True)
        while True:
            time.sleep(0.1)
"""

IGNORES_SIGTERM = [
    "python", "-c",
    "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
]
SLEEPS = ["python", "-c", "import time; print('ready', flush=True); time.sleep(60)"]


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def backend(state_dir):
    """A LocalBackend on a fresh state dir; every process it started is gone after the test."""
    backend = LocalBackend(settings={"state_dir": str(state_dir), "stop_grace_seconds": 5})
    yield backend
    run_dirs = [path for path in state_dir.iterdir() if path.is_dir()] if state_dir.exists() else []
    for run_dir in run_dirs:
        if not run_dir.name.startswith("."):
            backend.kill(run_dir.name)

    def all_gone() -> bool:
        for run_dir in run_dirs:
            pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
            if pid is not None and is_supervisor_of(pid, str(run_dir)):
                return False
            for leftover in sup.marked_processes(str(run_dir / sup.CACHE)):
                os.kill(leftover, signal.SIGKILL)
                return False
        return True

    wait_for(all_gone, 15, "every process of the test's runs to end")


# -- launch and exit --------------------------------------------------------------------------------------

def test_a_flow_launched_twice_runs_once_exits_0_and_its_stdout_is_in_the_logs(backend, state_dir, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("FLOWYARD_LEAK", "control-plane-only")
    source = write_workflow(tmp_path / "wf", HELLO)
    counter = tmp_path / "counter"
    spec = spec_for("run-1", source, environment={"COUNTER": str(counter), "API_KEY": "s3cr3t",
                                                  "FLOWYARD_RUN_TOKEN": "tok", "PLAIN": "visible"},
                    secret_names=frozenset({"API_KEY"}))

    first = backend.launch(spec)
    second = backend.launch(spec)
    assert first and first == second
    status = wait_state(backend, "run-1", WorkloadState.EXITED)

    assert status.exit_code == 0, list(backend.logs("run-1"))
    assert status.ref == first and status.oom_killed is False and status.message == ""
    assert status.started_at <= status.finished_at
    assert status.peak_memory_bytes > 1024 * 1024 and status.cpu_seconds > 0
    assert counter.read_text() == "ran\n"  # exactly one process ran the flow
    lines = list(backend.logs("run-1"))
    messages = [line.message for line in lines if line.stream == "stdout"]
    run_dir = backend.run_dir("run-1")
    assert any(f"hello world from {run_dir / 'workdir'}" in message for message in messages), messages
    assert any(f"home is {run_dir / 'home'}" in message for message in messages)
    assert any("secret is s3cr3t; leak is -" in message for message in messages)  # clean env + spec env
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert status.started_at <= lines[0].at <= status.finished_at
    # The run worked in its own copy of the source directory.
    assert (run_dir / "workdir" / "written-by-the-run.txt").exists()
    assert not (source / "written-by-the-run.txt").exists()
    # spec.json keeps no secret value.
    stored = (run_dir / "spec.json").read_text()
    assert "s3cr3t" not in stored and "tok" not in stored
    assert json.loads(stored)["environment"] == {"COUNTER": str(counter), "API_KEY": "***",
                                                 "FLOWYARD_RUN_TOKEN": "***", "PLAIN": "visible"}
    assert backend.launch(spec) == first  # still launches nothing once it is over
    assert counter.read_text() == "ran\n"


def test_two_concurrent_launches_start_exactly_one_process(backend, state_dir, tmp_path):
    source = write_workflow(tmp_path / "wf", HELLO)
    other = LocalBackend(settings={"state_dir": str(state_dir)})  # e.g. a second Celery worker
    for attempt in range(4):
        run_id = f"race-{attempt}"
        counter = tmp_path / f"counter-{attempt}"
        spec = spec_for(run_id, source, environment={"COUNTER": str(counter)})
        barrier = threading.Barrier(2)
        refs: list[str] = []
        errors: list[BaseException] = []

        def launch(target: LocalBackend) -> None:
            barrier.wait()
            try:
                refs.append(target.launch(spec))
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=launch, args=(b,)) for b in (backend, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors and len(refs) == 2 and refs[0] == refs[1] and refs[0]
        status = wait_state(backend, run_id, WorkloadState.EXITED)
        assert status.exit_code == 0
        assert counter.read_text() == "ran\n"


def test_a_failing_flow_exits_1(backend, tmp_path):
    source = write_workflow(tmp_path / "wf", """
        from flowyard import flow, task

        @task
        def boom():
            raise ValueError("no good")

        @flow
        def pipeline():
            boom()
    """)
    backend.launch(spec_for("fails", source))
    status = wait_state(backend, "fails", WorkloadState.EXITED)
    assert status.exit_code == 1 and status.oom_killed is False and status.image_error is False
    assert any("no good" in line.message for line in backend.logs("fails"))


def test_stdout_and_stderr_lines_keep_their_stream_and_their_order(backend, tmp_path):
    command = ["python", "-c", textwrap.dedent("""
        import sys, time
        for i in range(6):
            print(f"line {i}", file=sys.stdout if i % 2 == 0 else sys.stderr, flush=True)
            time.sleep(0.05)
        sys.stdout.write("no newline at the end")
    """)]
    backend.launch(spec_for("streams", tmp_path, command=command))
    assert wait_state(backend, "streams", WorkloadState.EXITED).exit_code == 0
    assert [(line.stream, line.message) for line in backend.logs("streams")] == [
        ("stdout", "line 0"), ("stderr", "line 1"), ("stdout", "line 2"), ("stderr", "line 3"),
        ("stdout", "line 4"), ("stderr", "line 5"), ("stdout", "no newline at the end")]


# -- stopping ---------------------------------------------------------------------------------------------

def test_terminate_cancels_a_running_flow_with_exit_143_within_the_grace(backend, tmp_path):
    source = write_workflow(tmp_path / "wf", LOOPS)
    backend.launch(spec_for("long", source))
    wait_state(backend, "long", WorkloadState.RUNNING)
    wait_log(backend, "long", "looping")

    asked = time.monotonic()
    backend.terminate("long", grace_seconds=10)
    assert time.monotonic() - asked < 1  # it asks, it does not wait
    backend.terminate("long", grace_seconds=10)  # the reconciler asks again: harmless
    status = wait_state(backend, "long", WorkloadState.EXITED, timeout=10)
    assert status.exit_code == 143 and status.message == ""
    assert any("run CANCELLED" in line.message for line in backend.logs("long"))


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(backend, tmp_path):
    backend.launch(spec_for("stubborn", tmp_path, command=IGNORES_SIGTERM))
    wait_log(backend, "stubborn", "ready")
    asked = time.monotonic()
    backend.terminate("stubborn", grace_seconds=1)
    status = wait_state(backend, "stubborn", WorkloadState.EXITED, timeout=10)
    took = time.monotonic() - asked
    assert status.exit_code == 137 and status.oom_killed is False
    assert "SIGKILL" in status.message
    assert 0.9 <= took < 5, took


def test_kill_stops_at_once(backend, tmp_path):
    backend.launch(spec_for("killed", tmp_path, command=IGNORES_SIGTERM))
    wait_log(backend, "killed", "ready")
    child = sup.read_int(str(backend.run_dir("killed") / sup.CHILD_PID))
    backend.kill("killed")
    status = wait_state(backend, "killed", WorkloadState.EXITED, timeout=5)
    assert status.exit_code == 137 and status.oom_killed is False and status.message == "killed with SIGKILL"
    assert process_gone(child)
    backend.kill("killed")  # again, after the end: nothing happens
    backend.terminate("killed", grace_seconds=1)
    assert backend.inspect("killed").exit_code == 137


def test_processes_left_behind_in_another_session_end_with_the_run(backend, tmp_path):
    command = ["bash", "-c", "setsid sleep 300 & echo leftover $!"]
    backend.launch(spec_for("leaves", tmp_path, command=command))
    status = wait_state(backend, "leaves", WorkloadState.EXITED, timeout=10)
    assert status.exit_code == 0
    line = next(line.message for line in backend.logs("leaves") if line.message.startswith("leftover"))
    leftover = int(line.split()[1])
    wait_for(lambda: process_gone(leftover), 5, "the leftover process to be killed")


# -- vanish, re-attach, remove ----------------------------------------------------------------------------

def test_a_supervisor_killed_with_sigkill_leaves_an_exited_run_with_no_exit_code(backend, tmp_path):
    backend.launch(spec_for("orphan", tmp_path, command=SLEEPS))
    wait_log(backend, "orphan", "ready")
    run_dir = backend.run_dir("orphan")
    supervisor = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
    child = sup.read_int(str(run_dir / sup.CHILD_PID))
    os.kill(supervisor, signal.SIGKILL)

    status = wait_state(backend, "orphan", WorkloadState.EXITED, timeout=10)
    assert status.exit_code is None and status.message == VANISHED and status.ref == str(supervisor)
    wait_for(lambda: process_gone(child), 5, "the workload to die with its supervisor")
    backend.remove("orphan")
    assert backend.inspect("orphan").state is WorkloadState.MISSING


def test_a_new_backend_on_the_same_state_dir_re_attaches_lists_stops_and_removes(backend, state_dir, tmp_path):
    source = write_workflow(tmp_path / "wf", LOOPS)
    ref = backend.launch(spec_for("survivor", source))
    wait_log(backend, "survivor", "looping")

    restarted = backend_for("local", {"state_dir": str(state_dir)})  # the control plane after a restart
    status = restarted.inspect("survivor")
    assert status.state is WorkloadState.RUNNING and status.ref == ref and status.started_at is not None
    listed = restarted.list_workloads()
    assert set(listed) == {"survivor"} and listed["survivor"].state is WorkloadState.RUNNING
    assert any("looping" in line.message for line in restarted.logs("survivor"))

    restarted.remove("survivor")  # refused, silently, while it runs
    assert restarted.inspect("survivor").state is WorkloadState.RUNNING

    restarted.terminate("survivor", grace_seconds=10)
    assert wait_state(restarted, "survivor", WorkloadState.EXITED, timeout=10).exit_code == 143
    restarted.remove("survivor")
    restarted.remove("survivor")
    assert restarted.inspect("survivor").state is WorkloadState.MISSING
    assert not (state_dir / "survivor").exists()
    assert restarted.list_workloads() == {} and list(restarted.logs("survivor")) == []


def test_a_launch_that_died_before_starting_its_supervisor_is_pending_then_vanished(backend, state_dir):
    run_dir = state_dir / "half-launched"
    run_dir.mkdir(parents=True)  # what a control plane killed right after the os.mkdir lock leaves
    (run_dir / "spec.json").write_text("{}")
    assert backend.inspect("half-launched").state is WorkloadState.PENDING
    backend.remove("half-launched")  # a launch may be under way: not removed
    assert run_dir.exists()
    long_ago = time.time() - 600
    os.utime(run_dir / "spec.json", (long_ago, long_ago))
    status = backend.inspect("half-launched")
    assert status.state is WorkloadState.EXITED and status.exit_code is None and status.message.startswith(VANISHED)
    backend.remove("half-launched")
    assert backend.inspect("half-launched").state is WorkloadState.MISSING


def test_an_unknown_run_is_missing_and_every_call_on_it_is_harmless(backend):
    assert backend.inspect("never-launched") == RuntimeStatus(state=WorkloadState.MISSING)
    backend.terminate("never-launched", grace_seconds=1)
    backend.kill("never-launched")
    backend.remove("never-launched")
    assert list(backend.logs("never-launched")) == [] and backend.list_workloads() == {}


# -- limits and launch failures ---------------------------------------------------------------------------

def test_allocating_beyond_the_memory_limit_fails_with_memory_error_not_oom(backend, tmp_path):
    allocate = ["python", "-c", "data = bytearray(512 * 1024 * 1024); print('allocated', flush=True)"]
    backend.launch(spec_for("too-big", tmp_path, command=allocate, memory_mib=128))
    backend.launch(spec_for("fits", tmp_path, command=allocate, memory_mib=1024))

    status = wait_state(backend, "too-big", WorkloadState.EXITED)
    assert status.exit_code == 1 and status.oom_killed is False
    assert any(line.stream == "stderr" and "MemoryError" in line.message for line in backend.logs("too-big"))
    control = wait_state(backend, "fits", WorkloadState.EXITED)
    assert control.exit_code == 0 and control.peak_memory_bytes >= 512 * 1024 * 1024


def test_a_source_that_is_not_a_directory_fails_the_launch_as_an_image_error(backend, state_dir, tmp_path):
    for image in ("registry.example/flow:1", f"file://{tmp_path}/nowhere", "relative/path"):
        with pytest.raises(LaunchFailed) as failure:
            backend.launch(spec_for("bad-image", image))
        assert failure.value.image_error
    assert backend.inspect("bad-image").state is WorkloadState.MISSING


def test_a_command_that_does_not_exist_exits_127_as_an_image_error(backend, tmp_path):
    backend.launch(spec_for("no-such", tmp_path, command=["no-such-program-flowyard"]))
    status = wait_state(backend, "no-such", WorkloadState.EXITED)
    assert status.exit_code == 127 and status.image_error and "no-such-program-flowyard" in status.message


def test_settings_need_a_state_dir_and_run_ids_must_be_plain_names(backend, tmp_path):
    with pytest.raises(ValueError, match="state_dir"):
        LocalBackend(settings={})
    with pytest.raises(ValueError):
        backend.inspect("../escape")


@pytest.mark.parametrize("how", ["path", "module"])
def test_the_supervisor_runs_as_a_program_by_path_and_by_module_name(how):
    program = ["-I", sup.__file__] if how == "path" else ["-m", "controlplane.runtimes.backends.local.supervisor"]
    result = subprocess.run([sys.executable, *program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "usage: supervisor.py RUN_DIR" in result.stderr
