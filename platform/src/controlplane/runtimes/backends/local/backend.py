"""`LocalBackend`: each run is a supervised process on this machine (see the package docstring for the design)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from controlplane.runtimes.backends.base import (
    LaunchFailed,
    LaunchSpec,
    LogLine,
    RuntimeBackend,
    RuntimeStatus,
    WorkloadState,
    of_installation,
)
from controlplane.runtimes.backends.local import supervisor as sup
from controlplane.runtimes.backends.local.logs import merged_logs, parse_time
from controlplane.runtimes.backends.local.processes import is_supervisor_of
from controlplane.runtimes.backends.local.stopping import kill_run, request_stop

SUPERVISOR_SCRIPT = os.path.abspath(sup.__file__)
LAUNCH_TIMEOUT_SECONDS = 30.0  # the supervisor's first process exits within this (it only forks)
VANISHED = "the local process vanished"
MASK = "***"
ALWAYS_MASKED = frozenset({"FLOWYARD_RUN_TOKEN"})
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


@dataclass
class LocalBackend(RuntimeBackend):
    """Runs each run as a supervised local process; settings: state_dir, python, stop_grace_seconds."""

    kind: ClassVar[str] = "local"
    lists_full_status: ClassVar[bool] = True  # list_workloads inspects each run directory

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
            "secret_names": sorted(spec.secret_names),
            "labels": {**spec.labels, **self.installation_labels()}, "cpu_units": spec.cpu_units,
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
        return pid is not None and is_supervisor_of(pid, str(run_dir))

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
            started_at=parse_time(sup.read_text(str(run_dir / sup.STARTED_AT))),
            finished_at=parse_time(sup.read_text(str(run_dir / sup.FINISHED_AT))),
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
        started_at = parse_time(sup.read_text(str(run_dir / sup.STARTED_AT)))
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
        """Every run directory of this installation under state_dir, inspected, by run id."""
        try:
            names = sorted(os.listdir(self.state_dir))
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            if _RUN_ID.fullmatch(name) and (self.state_dir / name).is_dir() and self._is_ours(self.state_dir / name):
                status = self.inspect(name)
                if status.state is not WorkloadState.MISSING:
                    found[name] = status
        return found

    def _is_ours(self, run_dir: Path) -> bool:
        """Whether the run in `run_dir` was launched by this installation (from the labels in its spec.json)."""
        if not self.installation_id:
            return True
        try:
            labels = json.loads(sup.read_text(str(run_dir / sup.SPEC)) or "{}").get("labels") or {}
        except ValueError:
            labels = {}
        return of_installation(labels, self.installation_id)

    # -- stopping ---------------------------------------------------------------------------------------

    def terminate(self, run_id: str, *, grace_seconds: float | None = None) -> None:
        """SIGTERM the run's process group now (by its supervisor) and SIGKILL it after the grace; returns at once."""
        run_dir = self.run_dir(run_id)
        grace = self.stop_grace_seconds if grace_seconds is None else max(0.0, float(grace_seconds))
        if not run_dir.is_dir() or (run_dir / sup.EXIT_CODE).exists():
            return
        try:
            request_stop(run_dir, grace)
        except FileNotFoundError:  # removed meanwhile
            return
        if not self._supervisor_alive(run_dir) and not (run_dir / sup.EXIT_CODE).exists():
            kill_run(run_dir)  # nobody left to enforce the grace: stop what may remain now

    def kill(self, run_id: str) -> None:
        """SIGKILL the run's process group and every process of the run at once."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir() or (run_dir / sup.EXIT_CODE).exists():
            return
        try:
            request_stop(run_dir, 0.0)  # so that the supervisor reports the kill
        except FileNotFoundError:
            return
        kill_run(run_dir)

    def remove(self, run_id: str) -> None:
        """Delete the run directory of an exited run; does nothing while the run is pending or running."""
        run_dir = self.run_dir(run_id)
        status = self.inspect(run_id)
        if status.state in (WorkloadState.MISSING, WorkloadState.PENDING, WorkloadState.RUNNING):
            return
        if status.exit_code is None:  # vanished: make sure nothing of it is left running
            kill_run(run_dir)
        trash = self.state_dir / f".removing-{run_dir.name}-{uuid.uuid4().hex}"
        try:
            os.rename(run_dir, trash)  # atomic: the run is MISSING from here on
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    # -- logs -------------------------------------------------------------------------------------------

    def logs(self, run_id: str) -> Iterator[LogLine]:
        """stdout and stderr lines, each stamped by the supervisor when read, merged oldest first."""
        return merged_logs(self.run_dir(run_id))
