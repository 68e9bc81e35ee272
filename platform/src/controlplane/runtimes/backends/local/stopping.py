"""Stopping a local run: the `terminate` request its supervisor obeys, and killing what is left without one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from controlplane.runtimes.backends.local import supervisor as sup
from controlplane.runtimes.backends.local.processes import child_is_alive, is_supervisor_of


def create_atomic(path: str, text: str) -> bool:
    """Create `path` with `text` unless it exists (atomically, whole content); True when this call created it."""
    temporary = f"{path}.tmp.{os.getpid()}.{time.monotonic_ns()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def request_stop(run_dir: Path, grace: float) -> None:
    """Record (or bring forward) the stop request and wake the supervisor, which acts on it."""
    request_path = str(run_dir / sup.TERMINATE)
    request = json.dumps({"deadline": time.time() + grace, "grace": grace})
    if not create_atomic(request_path, request):
        current = sup.read_request(str(run_dir))
        if current is None or current["deadline"] > time.time() + grace:
            sup.write_atomic(request_path, request)  # a shorter grace (e.g. kill) wins, a longer one never
    pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
    if pid is not None and is_supervisor_of(pid, str(run_dir)):
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass


def kill_run(run_dir: Path) -> None:
    """SIGKILL the run's process group (only a verified pid: never someone else's group) and its marked processes."""
    sup.kill_run_processes(str(run_dir), child_is_alive(str(run_dir)))
