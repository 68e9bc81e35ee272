"""Running a command (bash, spark-submit, a binary) as the run: its output becomes the run's log lines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from flowyard.errors import FlowCancelled
from flowyard.runner.session import RunnerSession
from flowyard.states import RunState

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")
_MAX_LINE_BYTES = 32_000


def command_environment(base: Mapping[str, str], parameters: Mapping[str, Any]) -> dict[str, str]:
    """The child's environment: FLOWYARD_PARAMETERS as JSON and FLOWYARD_PARAM_<NAME> each; no run token."""
    env = {key: value for key, value in base.items() if key != "FLOWYARD_RUN_TOKEN"}
    env["FLOWYARD_PARAMETERS"] = json.dumps(dict(parameters), default=str)
    for name, value in parameters.items():
        env[f"FLOWYARD_PARAM_{_NOT_NAME.sub('_', name).upper()}"] = value if isinstance(value, str) else json.dumps(value, default=str)
    return env


def _pump(stream: IO[bytes], name: str, session: RunnerSession) -> None:
    for raw in iter(lambda: stream.readline(_MAX_LINE_BYTES), b""):  # a huge line arrives in pieces
        session.sink.log(raw.decode("utf-8", errors="replace").rstrip("\r\n"), stream=name)
    stream.close()


def _grace(environ: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(environ.get("FLOWYARD_CANCEL_GRACE_SECONDS", "") or 5.0))
    except ValueError:
        return 5.0


def run_command(session: RunnerSession, argv: Sequence[str], parameters: Mapping[str, Any], cwd: Path) -> int:
    """Run `argv` in `cwd`, stream its stdout/stderr as log lines; SIGTERM is passed on to its process group."""
    session.log(f"running command {json.dumps(list(argv))}")
    try:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=command_environment(session.environ, parameters),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
    except OSError as error:
        return session.finish(RunState.FAILED, f"cannot start {argv[0]!r}: {error.strerror or error}")
    pumps = [threading.Thread(target=_pump, args=(pipe, name, session), daemon=True, name=f"flowyard-{name}")
             for pipe, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))]
    for pump in pumps:
        pump.start()
    try:
        code = process.wait()
    except FlowCancelled:
        session.cancellation.shielded = True
        _stop(process, _grace(session.environ))
        for pump in pumps:
            pump.join(2.0)
        return session.finish(RunState.CANCELLED)
    session.cancellation.shielded = True
    for pump in pumps:
        pump.join()
    if code == 0:
        return session.finish(RunState.SUCCEEDED)
    if code < 0:
        return session.finish(RunState.FAILED, f"command killed by signal {signal.Signals(-code).name}")
    return session.finish(RunState.FAILED, f"command exited with status {code}")


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
