"""The `local` runtime: each run is a process on the control plane's own machine (embedded demo, development).

`spec.image` is not a container image here but the workflow's source directory, `file:///abs/path` or
`/abs/path`. Each run gets `<state_dir>/<run_id>/`, which is the whole truth about it (no database, no
memory: a new `LocalBackend` on the same state dir — a restarted control plane — sees everything):

    spec.json        the launch spec, secret values (and FLOWYARD_RUN_TOKEN) replaced by "***"
    supervisor.pid   the supervisor's pid: the workload's reference        supervisor.log  its own errors
    workdir/         a copy of the source directory, the workload's cwd   home/ cache/ tmp/  HOME etc.
    pid, pid.start   the workload's pid and start time (clock ticks)      started_at, finished_at
    stdout.log       `<ISO-8601 UTC time> <line>` per line, the time the supervisor read it; stderr.log alike
    terminate        a stop request: {"deadline", "grace"}                 usage.json  peak memory, CPU, message
    exit_code        written last: present ⇔ the run is over

The run directory is created with `os.mkdir`, which is the launch lock: of two concurrent launches of a run
exactly one creates it and starts a supervisor (see `local_supervisor`), the other returns its reference.
The supervisor runs in a new session, so stopping or restarting the control plane does not stop runs.

Stopping: `terminate` writes the `terminate` request (its deadline never moves later) and wakes the
supervisor with SIGUSR1; the supervisor sends SIGTERM to the workload's process group at once and SIGKILL at
the deadline, so the call returns immediately and exactly one SIGTERM is sent however often it is repeated.
`kill` also SIGKILLs directly. If the supervisor is gone, the backend kills what is left itself.

Logs: the supervisor reads the workload's stdout and stderr through pipes and stamps each line with the time
it read it, so `logs()` can merge both streams in order with real times (a timestamp-less file would only give
the order within one stream). The price: a line is stamped when it is read, not when it was written, and a
supervisor that dies takes the workload with it (PR_SET_PDEATHSIG), which is what we want anyway: a workload
nobody watches must not run on unseen.

Limits and what this runtime cannot do (it has no cgroups):

- memory: `RLIMIT_AS` = `memory_mib`. That caps address space, not resident memory, so it is stricter than a
  container's limit for programs that reserve much more than they touch; the workload gets
  `MALLOC_ARENA_MAX=2` so that glibc's per-thread arenas do not eat the budget. Going over makes allocations
  fail: Python raises MemoryError and the run fails as a user error (exit 1).
- `oom_killed` is always False: without a cgroup there is no OOM flag, and a local process cannot tell a
  kernel OOM kill from any other SIGKILL, so a SIGKILL is reported as exit 137, never as OOM.
- pids: `RLIMIT_NPROC` is not set. It counts every process of the user (the control plane, workers and all
  other runs included), not the run's, and it is not enforced at all for root; so it would either break
  unrelated runs or do nothing. `spec.pids_limit` is recorded in spec.json only.
- cpu: `cpu_units` is not enforced (no cgroup cpu quota); recorded in spec.json only.
- the workload runs as the control plane's user, with the control plane's Python (`settings["python"]`,
  which must have the SDK and the workflow's dependencies installed), not as a non-root container user.
- peak memory and CPU time come from the workload's rusage (`wait4`): they cover the workload process and
  the descendants it waited for.
"""

from __future__ import annotations

import datetime
import heapq
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from controlplane.runtimes.backends import local_supervisor as sup
from controlplane.runtimes.backends.base import (
    LaunchFailed,
    LaunchSpec,
    LogLine,
    RuntimeBackend,
    RuntimeStatus,
    WorkloadState,
)

SUPERVISOR_SCRIPT = os.path.abspath(sup.__file__)
LAUNCH_TIMEOUT_SECONDS = 30.0  # the supervisor's first process exits within this (it only forks)
VANISHED = "the local process vanished"
MASK = "***"
ALWAYS_MASKED = frozenset({"FLOWYARD_RUN_TOKEN"})
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_EPOCH = datetime.datetime.fromtimestamp(0, datetime.timezone.utc)


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass
class LocalBackend(RuntimeBackend):
    """Runs each run as a supervised local process; settings: state_dir, python, stop_grace_seconds."""

    kind: ClassVar[str] = "local"

    def __post_init__(self) -> None:
        if not self.settings.get("state_dir"):
            raise ValueError("the local runtime needs settings['state_dir'] (where run directories are kept)")
        # Canonical, so that a restarted control plane names the run dirs exactly as the supervisors do.
        self.state_dir = Path(self.settings["state_dir"]).resolve()
        python = str(self.settings.get("python") or sys.executable)
        self.python = shutil.which(python) or python
        self.stop_grace_seconds = float(self.settings.get("stop_grace_seconds", 10))

    # -- paths ------------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The directory of run `run_id` (which must be usable as a directory name)."""
        run_id = str(run_id)
        if not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"{run_id!r} is not a run id the local runtime can use as a directory name")
        return self.state_dir / run_id

    @staticmethod
    def source_directory(image: str) -> Path:
        """The source directory `spec.image` names (file:///abs/path or /abs/path); LaunchFailed otherwise."""
        if image.startswith("file:"):
            parsed = urllib.parse.urlparse(image)
            if parsed.netloc not in ("", "localhost"):
                raise LaunchFailed(f"the local runtime cannot use {image!r}: a file URL on another host",
                                   image_error=True)
            path = urllib.parse.unquote(parsed.path)
        else:
            path = image
        if not os.path.isabs(path):
            raise LaunchFailed(f"the local runtime runs a source directory (file:///abs/path or /abs/path), "
                               f"not {image!r}", image_error=True)
        if not os.path.isdir(path):
            raise LaunchFailed(f"the workflow source directory {path} does not exist", image_error=True)
        return Path(path)

    # -- launch -----------------------------------------------------------------------------------------

    def _environment(self, spec: LaunchSpec, run_dir: Path) -> dict[str, str]:
        base = {
            "PATH": os.pathsep.join([os.path.dirname(self.python), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(run_dir / sup.HOME),
            "LANG": "C.UTF-8",
            "TMPDIR": str(run_dir / sup.TMP),
            "PYTHONUNBUFFERED": "1",  # as in the runtime image: lines reach the log when printed
            "MALLOC_ARENA_MAX": "2",  # see the module docstring (RLIMIT_AS)
        }
        base.update({str(key): str(value) for key, value in spec.environment.items()})
        base[sup.MARKER_VARIABLE] = str(run_dir / sup.CACHE)  # ours, always: it also marks the run's processes
        return base

    def _public_spec(self, spec: LaunchSpec, source: Path, argv: list[str]) -> dict:
        masked = set(spec.secret_names) | ALWAYS_MASKED
        return {
            "run_id": spec.run_id, "name": spec.name, "image": spec.image, "source": str(source), "argv": argv,
            "environment": {key: MASK if key in masked else value for key, value in spec.environment.items()},
            "secret_names": sorted(spec.secret_names), "labels": dict(spec.labels), "cpu_units": spec.cpu_units,
            "memory_mib": spec.memory_mib, "pids_limit": spec.pids_limit, "python": self.python,
        }

    def launch(self, spec: LaunchSpec) -> str:
        """Start the run's supervised process unless its run directory exists; return the supervisor's pid."""
        run_dir = self.run_dir(spec.run_id)
        source = self.source_directory(spec.image)
        argv = list(spec.command) if spec.command else [self.python, "-m", "flowyard", "run"]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(run_dir)
        except FileExistsError:
            return self._existing_reference(run_dir)
        try:
            sup.write_atomic(str(run_dir / sup.SPEC), json.dumps(self._public_spec(spec, source, argv), indent=2))
            config = {"source": str(source), "argv": argv, "env": self._environment(spec, run_dir),
                      "memory_bytes": max(0, int(spec.memory_mib)) * 1024 * 1024}
            with open(run_dir / sup.SUPERVISOR_LOG, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-I", SUPERVISOR_SCRIPT, str(run_dir)], cwd=run_dir,
                    env={"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"},
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, close_fds=True,
                    start_new_session=True,
                )
            try:
                process.communicate(json.dumps(config).encode(), timeout=LAUNCH_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise LaunchFailed(f"the local supervisor did not start within {LAUNCH_TIMEOUT_SECONDS:g} s")
            pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
            if process.returncode != 0 or pid is None:
                log_text = (sup.read_text(str(run_dir / sup.SUPERVISOR_LOG)) or "").strip()
                raise LaunchFailed(f"the local supervisor failed to start (exit {process.returncode}): "
                                   f"{log_text[-2000:]}")
            return str(pid)
        except BaseException as error:
            if not (run_dir / sup.SUPERVISOR_PID).exists():  # nothing started: a retry may launch again
                shutil.rmtree(run_dir, ignore_errors=True)
            if isinstance(error, LaunchFailed | KeyboardInterrupt | SystemExit):
                raise
            raise LaunchFailed(f"cannot launch the local run: {error}") from error

    def _existing_reference(self, run_dir: Path) -> str:
        """The supervisor pid of a run another launch created; waits (bounded) while that launch finishes."""
        deadline = time.monotonic() + LAUNCH_TIMEOUT_SECONDS + 5
        while True:
            pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
            if pid is not None:
                return str(pid)
            if not run_dir.is_dir():
                raise LaunchFailed("a concurrent launch of this run failed; try again")
            if time.monotonic() > deadline:
                return ""  # a launcher died half-way: inspect reports the run as vanished
            time.sleep(0.02)

    # -- state ------------------------------------------------------------------------------------------

    def _supervisor_alive(self, run_dir: Path) -> bool:
        pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
        return pid is not None and sup.is_supervisor_of(pid, str(run_dir))

    def _exited(self, run_dir: Path, ref: str, exit_code: int) -> RuntimeStatus:
        usage = {}
        text = sup.read_text(str(run_dir / sup.USAGE))
        if text:
            try:
                usage = json.loads(text)
            except ValueError:
                usage = {}
        return RuntimeStatus(
            state=WorkloadState.EXITED, ref=ref, exit_code=exit_code, oom_killed=False,
            started_at=_parse_time(sup.read_text(str(run_dir / sup.STARTED_AT))),
            finished_at=_parse_time(sup.read_text(str(run_dir / sup.FINISHED_AT))),
            peak_memory_bytes=usage.get("peak_memory_bytes"), cpu_seconds=usage.get("cpu_seconds"),
            message=usage.get("message") or "", image_error=bool(usage.get("image_error")),
        )

    def _age_seconds(self, run_dir: Path) -> float:
        for path in (run_dir / sup.SPEC, run_dir):
            try:
                return time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
        return 0.0

    def inspect(self, run_id: str) -> RuntimeStatus:
        """The run's state from its run directory and live processes (MISSING when there is no run dir)."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            return RuntimeStatus(state=WorkloadState.MISSING)
        ref = sup.read_text(str(run_dir / sup.SUPERVISOR_PID)) or ""
        ref = ref.strip()
        exit_code = sup.read_int(str(run_dir / sup.EXIT_CODE))
        if exit_code is not None:
            return self._exited(run_dir, ref, exit_code)
        started_at = _parse_time(sup.read_text(str(run_dir / sup.STARTED_AT)))
        if not ref:
            if not run_dir.is_dir():
                return RuntimeStatus(state=WorkloadState.MISSING)
            if self._age_seconds(run_dir) < 2 * LAUNCH_TIMEOUT_SECONDS:  # a launch is under way
                return RuntimeStatus(state=WorkloadState.PENDING)
            return RuntimeStatus(state=WorkloadState.EXITED, message=f"{VANISHED}: its launch never started it")
        if self._supervisor_alive(run_dir):
            has_child = sup.read_int(str(run_dir / sup.CHILD_PID)) is not None
            return RuntimeStatus(state=WorkloadState.RUNNING if has_child else WorkloadState.PENDING,
                                 ref=ref, started_at=started_at)
        exit_code = sup.read_int(str(run_dir / sup.EXIT_CODE))  # it may have finished since the first look
        if exit_code is not None:
            return self._exited(run_dir, ref, exit_code)
        if not run_dir.is_dir():
            return RuntimeStatus(state=WorkloadState.MISSING)
        message = VANISHED
        error = sup.read_text(str(run_dir / sup.SUPERVISOR_ERROR))
        if error:
            message += f" (its supervisor failed: {error.strip()})"
        return RuntimeStatus(state=WorkloadState.EXITED, ref=ref, exit_code=None, started_at=started_at,
                             finished_at=None, message=message)

    def list_workloads(self) -> dict[str, RuntimeStatus]:
        """Every run directory under state_dir, inspected, by run id."""
        try:
            names = sorted(os.listdir(self.state_dir))
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            if _RUN_ID.fullmatch(name) and (self.state_dir / name).is_dir():
                status = self.inspect(name)
                if status.state is not WorkloadState.MISSING:
                    found[name] = status
        return found

    # -- stopping ---------------------------------------------------------------------------------------

    def _request_stop(self, run_dir: Path, grace: float) -> None:
        """Record (or bring forward) the stop request and wake the supervisor, which acts on it."""
        request_path = str(run_dir / sup.TERMINATE)
        request = json.dumps({"deadline": time.time() + grace, "grace": grace})
        if not sup.create_atomic(request_path, request):
            current = sup.read_request(str(run_dir))
            if current is None or current["deadline"] > time.time() + grace:
                sup.write_atomic(request_path, request)  # a shorter grace (e.g. kill) wins, a longer one never
        pid = sup.read_int(str(run_dir / sup.SUPERVISOR_PID))
        if pid is not None and sup.is_supervisor_of(pid, str(run_dir)):
            try:
                os.kill(pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def terminate(self, run_id: str, *, grace_seconds: float | None = None) -> None:
        """SIGTERM the run's process group now (by its supervisor) and SIGKILL it after the grace; returns at once."""
        run_dir = self.run_dir(run_id)
        grace = self.stop_grace_seconds if grace_seconds is None else max(0.0, float(grace_seconds))
        if not run_dir.is_dir() or (run_dir / sup.EXIT_CODE).exists():
            return
        try:
            self._request_stop(run_dir, grace)
        except FileNotFoundError:  # removed meanwhile
            return
        if not self._supervisor_alive(run_dir) and not (run_dir / sup.EXIT_CODE).exists():
            self._kill_processes(run_dir)  # nobody left to enforce the grace: stop what may remain now

    def kill(self, run_id: str) -> None:
        """SIGKILL the run's process group and every process of the run at once."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir() or (run_dir / sup.EXIT_CODE).exists():
            return
        try:
            self._request_stop(run_dir, 0.0)  # so that the supervisor reports the kill
        except FileNotFoundError:
            return
        self._kill_processes(run_dir)

    def _kill_processes(self, run_dir: Path) -> None:
        group = sup.child_is_alive(str(run_dir))  # only a verified pid: never someone else's group
        sup.kill_run_processes(str(run_dir), group)

    def remove(self, run_id: str) -> None:
        """Delete the run directory of an exited run; does nothing while the run is pending or running."""
        run_dir = self.run_dir(run_id)
        status = self.inspect(run_id)
        if status.state in (WorkloadState.MISSING, WorkloadState.PENDING, WorkloadState.RUNNING):
            return
        if status.exit_code is None:  # vanished: make sure nothing of it is left running
            self._kill_processes(run_dir)
        trash = self.state_dir / f".removing-{run_dir.name}-{uuid.uuid4().hex}"
        try:
            os.rename(run_dir, trash)  # atomic: the run is MISSING from here on
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    # -- logs -------------------------------------------------------------------------------------------

    def _read_log(self, path: Path, stream: str, fallback: datetime.datetime) -> Iterator[LogLine]:
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return
        with handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return  # the supervisor is still writing this line
                text = raw[:-1].decode("utf-8", "replace")
                at = None
                if len(text) > sup.TIMESTAMP_WIDTH and text[sup.TIMESTAMP_WIDTH] == " ":
                    at = _parse_time(text[:sup.TIMESTAMP_WIDTH])
                if at is None:
                    yield LogLine(at=fallback, stream=stream, message=text)
                else:
                    fallback = at
                    yield LogLine(at=at, stream=stream, message=text[sup.TIMESTAMP_WIDTH + 1:])

    def logs(self, run_id: str) -> Iterator[LogLine]:
        """stdout and stderr lines, each stamped by the supervisor when read, merged oldest first."""
        run_dir = self.run_dir(run_id)
        started = _parse_time(sup.read_text(str(run_dir / sup.STARTED_AT))) or _EPOCH
        streams = [self._read_log(run_dir / sup.STDOUT, "stdout", started),
                   self._read_log(run_dir / sup.STDERR, "stderr", started)]
        return heapq.merge(*streams, key=lambda line: line.at)
