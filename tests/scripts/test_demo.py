"""`scripts/demo` (what `make demo` runs) runs the example end to end and stops cleanly: on SIGTERM at any point it stops what it started, in
order, prints the ready banner at most once and exits 0, leaving no process, no listener and no live run.

Each test runs the real script on its own address and data directory, with local processes as the runtime
(no image build), and an environment holding nothing of the test session's (its database, broker, queue).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from flowyard_testkit.cli import wait_until

ROOT = Path(__file__).resolve().parents[2]
LIVE_STATES = ("SCHEDULED", "QUEUED", "STARTING", "RUNNING", "CANCELLING")
READY = "Flowyard demo is ready."
SETUP_SECONDS = 300  # migrate, seed, start, register and one run, on 2 busy cores
STOP_SECONDS = 90  # cancel the live runs (3 s grace each), stop the worker, stop the server


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def listens(address: str) -> bool:
    host, port = address.split(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) == 0


def processes_with(marker: str) -> list[int]:
    """Pids of processes whose environment contains `marker` (the demo's own data directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker.encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


class Demo:
    """One `scripts/demo` process, its output in a file."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "demo-data"
        self.address = free_address()
        self.output = tmp_path / "demo.out"
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("FLOWYARD_", "DJANGO_", "CELERY_"))}
        env.update(FLOWYARD_DATA_DIR=str(self.data_dir), FLOWYARD_DEMO_ADDR=self.address,
                   FLOWYARD_DEMO_RUNTIME="local")
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(["bash", "scripts/demo"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = SETUP_SECONDS) -> None:
        try:
            wait_until(lambda: needle in self.text() or self.process.poll() is not None, timeout=timeout,
                       what=f"the demo to print {needle!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- demo output ---\n{self.text()[-4000:]}") from None
        assert needle in self.text(), f"the demo exited {self.process.returncode}:\n{self.text()[-4000:]}"

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the demo did not stop within {STOP_SECONDS} s:\n{self.text()[-4000:]}") from None

    def live_runs(self) -> int:
        database = self.data_dir / "flowyard.sqlite3"
        with sqlite3.connect(database) as connection:
            marks = ",".join("?" * len(LIVE_STATES))
            return connection.execute(f"SELECT count(*) FROM runs_run WHERE state IN ({marks})", LIVE_STATES).fetchone()[0]

    def clean_up(self) -> None:
        """Whatever a failed test left behind: the script and everything that has its data directory."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in processes_with(f"FLOWYARD_DATA_DIR={self.data_dir}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def demo(tmp_path):
    started = Demo(tmp_path)
    yield started
    started.clean_up()


def assert_stopped_cleanly(demo: Demo, status: int) -> str:
    output = demo.text()
    assert status == 0, f"exit status {status}:\n{output[-4000:]}"
    assert "is not a child" not in output
    assert output.count(READY) <= 1
    assert not listens(demo.address), "the control plane still listens"
    marker = f"FLOWYARD_DATA_DIR={demo.data_dir}"
    try:
        wait_until(lambda: not processes_with(marker), timeout=10, what="the demo's processes to be gone")
    except AssertionError:
        raise AssertionError(f"still running after the demo exited: {processes_with(marker)}") from None
    return output


def test_sigterm_while_the_demo_waits_for_its_scheduled_run_cancels_it_stops_everything_and_exits_0(demo):
    demo.wait_for_output("Waiting for the next scheduled run")
    output = demo.text()
    assert output.index(READY) < output.index("Triggering a run"), "ready is printed before the loop is shown"
    first_run = output[output.index("Triggering a run"):output.index("The schedule:")]
    assert re.search(r"run [0-9a-f-]{36} SUCCEEDED", first_run), f"the demo's run did not succeed:\n{first_run}"
    assert "Hello Ada" in first_run, "its log lines were followed"
    started = time.monotonic()
    output = assert_stopped_cleanly(demo, demo.terminate())
    assert "Stopping: cancelling the demo's live runs" in output
    assert "Press Ctrl-C to stop." not in output, "nothing of the demo goes on after the signal"
    assert demo.live_runs() == 0, "every run the demo started has ended"
    assert time.monotonic() - started < STOP_SECONDS


def test_sigterm_during_start_up_stops_before_the_banner_and_exits_0(demo):
    demo.wait_for_output("Starting the control plane")
    output = assert_stopped_cleanly(demo, demo.terminate())
    after_signal = output[output.index("Starting the control plane"):]
    assert "Building" not in after_signal and "Triggering" not in after_signal, "it did not go on"
