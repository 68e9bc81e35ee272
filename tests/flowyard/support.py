"""Test helpers for the SDK: a stub control plane speaking the runner events contract, waits, subprocesses.

Loaded by path (tests run with --import-mode=importlib); conftest.py registers it as `flowyard_test_support`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import typing
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flowyard_spec import api
from flowyard_spec.states import RunState

DEFAULT_TIMEOUT = 30.0
_EVENT_TYPES = {"run": api.RunEvent, "task": api.TaskEvent, "log": api.LogEvent, "heartbeat": api.HeartbeatEvent}


def wait_until(condition: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, __import__("types").UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def contract_errors(event: Any) -> list[str]:
    """What is wrong with `event` according to the TypedDicts of flowyard_spec.api (empty when it conforms)."""
    if not isinstance(event, dict) or event.get("type") not in _EVENT_TYPES:
        return [f"unknown event {event!r}"]
    shape = _EVENT_TYPES[event["type"]]
    hints, required = {}, set()
    # __required_keys__ is unreliable with postponed annotations: read NotRequired[...] from the hints themselves
    for key, hint in typing.get_type_hints(shape, include_extras=True).items():
        if typing.get_origin(hint) is typing.NotRequired:
            hint = typing.get_args(hint)[0]
        else:
            required.add(key)
        hints[key] = hint
    errors = [f"{event['type']} event lacks {key!r}" for key in sorted(required) if key not in event]
    errors += [f"{event['type']} event has unknown key {key!r}" for key in event if key not in hints]
    for key, value in event.items():
        if key in hints and not _matches(value, hints[key]):
            errors.append(f"{event['type']} event: {key}={value!r} does not match {hints[key]}")
    return errors


class StubControlPlane:
    """The runner events endpoint, in a thread: validates, stores like the real one, can fail on purpose.

    Modes: "ok"; "503" (answer 503, store nothing); "lose_replies" (store, then answer 503 as if the reply
    was lost); `refuse()` closes the listening socket so connections are refused until `resume()`.
    """

    def __init__(self, run_id: str = "run-1", token: str = "run-token") -> None:
        self.run_id = run_id
        self.token = token
        self.mode = "ok"
        self.cancel_requested = False
        self.run_state = RunState.STARTING.value
        self.terminal = False
        self.batches: list[list[dict[str, Any]]] = []
        self.logs: list[dict[str, Any]] = []
        self.log_seqs_received: list[int] = []
        self.run_events: list[dict[str, Any]] = []
        self.task_events: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.heartbeats = 0
        self.rejected: list[tuple[int, str]] = []
        self.answered: dict[int, int] = {}
        self.after_terminal = 0
        self.lost_replies = 0
        self.max_body_events: int | None = None  # answer 413 to bigger batches, like a proxy with a body limit
        self.token_unknown_for = 0  # answer this many batches 401 `run_token_unknown`: the launch has not committed yet
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> "StubControlPlane":
        """Listen on 127.0.0.1 (a free port the first time, the same port after `resume`)."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, reply = stub.handle(self.path, self.headers.get("Authorization", ""), body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def refuse(self) -> None:
        """Stop listening: clients get `connection refused`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def resume(self) -> None:
        """Listen again on the same port, answering normally."""
        self.mode = "ok"
        if self._server is None:
            self.start()

    stop = refuse

    @property
    def url(self) -> str:
        """The API base URL (FLOWYARD_API_URL)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables that make the runner report here."""
        return {"FLOWYARD_API_URL": self.url, "FLOWYARD_RUN_ID": self.run_id, "FLOWYARD_RUN_TOKEN": self.token}

    # -- the endpoint -----------------------------------------------------------------------------------

    def handle(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Apply one POST the way the control plane does (one transaction per batch)."""
        with self._lock:
            status, reply = self._handle(path, authorization, body)
            self.answered[status] = self.answered.get(status, 0) + 1
            return status, reply

    def _handle(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if path != api.RUNNER_EVENTS_PATH.format(run_id=self.run_id):
            return 404, {"detail": "not found"}
        if self.terminal:  # as the control plane answers a run token once its run has ended
            self.after_terminal += 1
            return 401, {"code": api.RUN_ENDED_CODE, "message": "This run has ended; its token no longer works."}
        if authorization != f"Bearer {self.token}" or self.token_unknown_for > 0:
            self.token_unknown_for = max(0, self.token_unknown_for - 1)
            return 401, {"code": api.RUN_TOKEN_UNKNOWN_CODE, "message": "Invalid run token."}
        if self.mode == "503":
            return 503, {"detail": "unavailable"}
        try:
            events = json.loads(body)["events"]
        except (ValueError, KeyError, TypeError):
            return 400, {"detail": "expected {\"events\": [...]}"}
        if self.max_body_events is not None and len(events) > self.max_body_events:
            return 413, {"detail": "request entity too large"}
        errors = [error for event in events for error in contract_errors(event)]
        if len(events) > api.MAX_EVENTS_PER_BATCH:
            errors.append(f"{len(events)} events in one batch")
        last = self.logs[-1]["seq"] if self.logs else 0
        expected = last + 1
        for event in events:
            if event.get("type") == "log" and event["seq"] > last:
                if event["seq"] != expected:
                    errors.append(f"log seq {event['seq']} leaves a gap after {expected - 1}")
                expected = event["seq"] + 1
        if errors:
            self.rejected.append((400, "; ".join(errors)))
            return 400, {"detail": errors}
        self.batches.append(events)
        for event in events:
            if event["type"] == "log":
                self.log_seqs_received.append(event["seq"])
                if event["seq"] > last:
                    self.logs.append(event)
                    last = event["seq"]
            elif event["type"] == "task":
                self.task_events.append(event)
                self.tasks[event["task_key"]] = event
            elif event["type"] == "run":
                self.run_events.append(event)
                self.run_state = event["state"]
                self.terminal = RunState(event["state"]).is_terminal
            else:
                self.heartbeats += 1
        reply = {"run_state": self.run_state, "cancel_requested": self.cancel_requested,
                 "last_log_seq": self.logs[-1]["seq"] if self.logs else 0}
        if self.mode == "lose_replies":
            self.lost_replies += 1
            return 503, {"detail": "reply lost"}
        return 200, reply

    # -- reading what arrived ---------------------------------------------------------------------------

    def log_messages(self) -> list[str]:
        """Stored log lines' messages, in seq order."""
        with self._lock:
            return [event["message"] for event in self.logs]

    def task_states(self, task_key: str) -> list[str]:
        """Every state reported for one task, in arrival order."""
        with self._lock:
            return [event["state"] for event in self.task_events if event["task_key"] == task_key]


def write_workflow(directory: Path, source: str, *, name: str = "workflow.py", config: dict[str, Any] | None = None) -> Path:
    """Write a workflow module (dedented) and optionally flowyard.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(source))
    if config is not None:
        (directory / "flowyard.json").write_text(json.dumps(config))
    return directory


def runner_env(extra: dict[str, str] | None = None, cache_dir: Path | None = None) -> dict[str, str]:
    """The test process's environment without any FLOWYARD_* variable, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWYARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    if cache_dir is not None:
        env["FLOWYARD_CACHE_DIR"] = str(cache_dir)
    env.update(extra or {})
    return env


class RunnerProcess:
    """`python -m flowyard run ...` in a directory, its output lines collected as they come."""

    def __init__(self, directory: Path, args: Iterable[str] = (), env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        argv = command or [sys.executable, "-m", "flowyard", "run", *args]
        self.process = subprocess.Popen(argv, cwd=directory, env=env or runner_env(), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
                         threading.Thread(target=self._read, args=(self.process.stderr, self.stderr), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The first stdout line matching the regex `pattern`, waiting for it."""
        regex = re.compile(pattern)

        def found() -> str | None:
            return next((line for line in list(self.stdout) if regex.search(line)), None)

        try:
            return wait_until(found, timeout, f"a line matching {pattern!r}")
        except AssertionError:
            raise AssertionError(f"no line matching {pattern!r}; output so far:\n{self.output}") from None

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for the process and its output; its exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"runner still running after {timeout} s; output:\n{self.output}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    @property
    def output(self) -> str:
        """Everything printed so far, stdout then stderr."""
        return "\n".join(self.stdout) + "\n--- stderr ---\n" + "\n".join(self.stderr)


def run_runner(directory: Path, *args: str, env: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, RunnerProcess]:
    """Run the runner to completion: (exit code, the process with its output)."""
    runner = RunnerProcess(directory, args, env)
    return runner.wait(timeout), runner
