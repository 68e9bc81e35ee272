"""Which processes belong to a local run, as the control plane checks them (pid reuse and impostors excluded)."""

from __future__ import annotations

import os

from controlplane.runtimes.backends.local.supervisor import (
    CHILD_PID,
    CHILD_START,
    proc_stat_fields,
    process_start_ticks,
    read_int,
)

SUPERVISOR_MODULE = "controlplane.runtimes.backends.local.supervisor"  # `python -m` form
SUPERVISOR_FILE = os.path.join("local", "supervisor.py")  # the path form LocalBackend.launch uses
LEGACY_SUPERVISOR_FILE = "local_supervisor.py"  # supervisors started before the backend became a package


def process_cmdline(pid: int) -> list[str] | None:
    """The process's argv, None when it is gone or a zombie (a zombie's cmdline is empty)."""
    fields = proc_stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0") if part] or None


def names_the_supervisor(argument: str) -> bool:
    """Whether one command-line argument is the supervisor program (by path, by module, or its old name)."""
    return (argument == SUPERVISOR_MODULE or argument.endswith(os.sep + SUPERVISOR_FILE)
            or os.path.basename(argument) == LEGACY_SUPERVISOR_FILE)


def is_supervisor_of(pid: int, run_dir: str) -> bool:
    """True when `pid` is alive and is this run's supervisor (its cmdline names the supervisor and the run dir)."""
    argv = process_cmdline(pid)
    return bool(argv) and run_dir in argv and any(names_the_supervisor(arg) for arg in argv)


def child_is_alive(run_dir: str) -> int | None:
    """The workload's pid when the very process the supervisor started is still alive (pid reuse checked)."""
    pid = read_int(os.path.join(run_dir, CHILD_PID))
    start = read_int(os.path.join(run_dir, CHILD_START))
    if pid is None or start is None:
        return None
    return pid if process_start_ticks(pid) == start else None
