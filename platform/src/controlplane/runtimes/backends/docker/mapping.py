"""What a run's container is created with, and how Docker's answers become `RuntimeStatus` and `LogLine`s.

Pure functions over plain values (no client, no I/O), so every rule is in one place.
"""

from __future__ import annotations

import datetime
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from docker.types import Mount

from controlplane.runtimes.backends.base import (
    MANAGED_LABEL,
    RUN_LABEL,
    LaunchFailed,
    LaunchSpec,
    LogLine,
    RuntimeStatus,
    WorkloadState,
)
from controlplane.runtimes.backends.docker.config import DockerSettings

HOME = "/home/flowyard"  # the runtime image's home directory (user flowyard, uid 10001)
CACHE_DIR = "/tmp/flowyard-cache"  # FLOWYARD_CACHE_DIR unless the spec sets one: the root filesystem is read-only
RESULTS_DIR = "/var/lib/flowyard/results"  # FLOWYARD_RESULT_DIR: the environment's result store, a named volume
RESULTS_VOLUME_PREFIX = "flowyard-results-"
MIB = 1024 * 1024
# The only host-config options a workflow container is ever created with. The one mount is the environment's own
# result-store volume (never a host path, never the Docker socket): see assert_nothing_mounted.
HOST_CONFIG_OPTIONS = frozenset({
    "mem_limit", "memswap_limit", "nano_cpus", "pids_limit", "security_opt", "cap_drop", "read_only", "tmpfs",
    "network_mode", "init", "mounts",
})
NUMERIC_USER = re.compile(r"^(\d+)(?::(\d+))?$")
ENV_KEY = re.compile(r"^[^=\x00]+$")
RUNNING_STATES = frozenset({"running", "restarting", "paused"})
EXITED_STATES = frozenset({"exited", "dead", "removing"})
ACTIVE_STATES = frozenset({"created", "running", "restarting", "paused"})
# With init=True docker-init (tini) is PID 1 and execs the entrypoint: a missing or foreign executable ends the
# container with 127 / 126 and this line on stderr instead of failing `start`.
INIT_EXEC_FAILURE = re.compile(r"\[FATAL tini \(\d+\)\] exec .* failed: .*")
EXEC_FAILURE_CODES = frozenset({126, 127})
EPOCH = datetime.datetime.fromtimestamp(0, datetime.UTC)
TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ?")


# What a container reserved, as labels, so that placement reads every host's reservations from one list call.
MEMORY_LABEL = "org.flowyard.memory-mib"
CPU_LABEL = "org.flowyard.cpu-units"


def managed_labels(spec: LaunchSpec) -> dict[str, str]:
    """The spec's labels plus those every Flowyard container carries (managed, run id, reserved memory and CPU)."""
    return {**{str(k): str(v) for k, v in spec.labels.items()}, MANAGED_LABEL: "true", RUN_LABEL: str(spec.run_id),
            MEMORY_LABEL: str(spec.memory_mib), CPU_LABEL: str(spec.cpu_units)}


def container_environment(spec: LaunchSpec) -> dict[str, str]:
    """The spec's environment, with the cache directory and HOME defaulted to writable places."""
    environment = {str(k): str(v) for k, v in spec.environment.items()}
    for key in environment:
        if not ENV_KEY.match(key):
            raise LaunchFailed(f"environment variable name {key!r} is not valid")
    environment.setdefault("FLOWYARD_CACHE_DIR", CACHE_DIR)
    environment.setdefault("HOME", HOME)
    if spec.result_scope:
        environment["FLOWYARD_RESULT_DIR"] = RESULTS_DIR
    return environment


def results_volume(spec: LaunchSpec) -> str:
    """The name of the Docker volume holding the cached task results of the spec's environment ('' for none)."""
    return results_volume_of(spec.result_scope) if spec.result_scope else ""


def results_volume_of(scope: str) -> str:
    """The name of the Docker volume holding the cached task results of `scope` (an environment id)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", scope):
        raise LaunchFailed(f"result scope {scope!r} cannot name a Docker volume")
    return f"{RESULTS_VOLUME_PREFIX}{scope}"


def tmpfs_mounts(settings: DockerSettings) -> dict[str, str]:
    """The writable places on the read-only root: /tmp (sticky, for everyone) and the user's home (theirs)."""
    size = settings.tmpfs_size
    numeric = NUMERIC_USER.match(settings.user)
    if numeric:
        uid, gid = numeric.group(1), numeric.group(2) or numeric.group(1)
        home = f"rw,size={size},mode=0700,uid={uid},gid={gid}"
    else:
        home = f"rw,size={size},mode=1777"
    return {"/tmp": f"rw,size={size},mode=1777", HOME: home}


def host_config_options(spec: LaunchSpec, settings: DockerSettings) -> dict[str, Any]:
    """The host-config options of a run's container: limits, no privileges, read-only root, no mounts."""
    if spec.memory_mib <= 0 or spec.cpu_units <= 0 or spec.pids_limit <= 0:
        raise LaunchFailed("memory, cpu and pids limits must all be positive")
    memory = spec.memory_mib * MIB
    options = {
        "mem_limit": memory,
        "memswap_limit": memory,  # equal to the memory limit: no swap
        "nano_cpus": int(spec.cpu_units * 1_000_000_000 // 1024),
        "pids_limit": spec.pids_limit,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "read_only": True,
        "tmpfs": tmpfs_mounts(settings),
        "network_mode": settings.network_mode,
        "init": True,  # docker-init is PID 1: it forwards signals and reaps the workflow's children
    }
    volume = results_volume(spec)
    if volume:  # created by the engine on first use, owned as the runtime image's RESULTS_DIR is (uid 10001)
        options["mounts"] = [Mount(target=RESULTS_DIR, source=volume, type="volume", read_only=False)]
    assert_nothing_mounted(options)
    return options


def assert_nothing_mounted(options: Mapping[str, Any]) -> None:
    """Refuse host-config options that could mount anything (binds, devices, the socket) or add privileges; the one
    mount allowed is a result-store volume (a named volume, never a host path) at RESULTS_DIR."""
    extra = set(options) - HOST_CONFIG_OPTIONS
    if extra or set(options.get("tmpfs", {})) - {"/tmp", HOME}:
        raise LaunchFailed(f"refused container options {sorted(extra) or options['tmpfs']}: nothing is ever mounted")
    for mount in options.get("mounts", []):
        if (mount.get("Type") != "volume" or mount.get("Target") != RESULTS_DIR
                or not str(mount.get("Source", "")).startswith(RESULTS_VOLUME_PREFIX)):
            raise LaunchFailed(f"refused mount {dict(mount)}: only the environment's result-store volume is mounted")


def command_arguments(spec: LaunchSpec) -> dict[str, Any]:
    """`spec.command` as the whole command line (entrypoint = its first word); none: the image's entrypoint."""
    if not spec.command:
        return {}
    return {"entrypoint": list(spec.command[:1]), "command": list(spec.command[1:])}


def parse_time(value: str | None) -> datetime.datetime | None:
    """A Docker RFC 3339 time (nanoseconds, Z) as an aware datetime; None for Docker's zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = TIMESTAMP.match(value + " ")
    if not match:
        return None
    seconds, fraction, zone = match.groups()
    micros = int((fraction or "0").ljust(6, "0")[:6])
    parsed = datetime.datetime.fromisoformat(seconds + ("+00:00" if zone == "Z" else zone))
    return parsed.replace(microsecond=micros)


def exec_failure(stderr_tail: bytes) -> str:
    """docker-init's "could not execute the entrypoint" line in a container's stderr tail ("" when none)."""
    match = INIT_EXEC_FAILURE.search(stderr_tail.decode("utf-8", "replace"))
    return match.group(0).strip() if match else ""


def is_image_error(message: str) -> bool:
    """Whether a start error says the image cannot be executed (wrong platform, entrypoint missing)."""
    lowered = message.lower()
    return (
        "exec format error" in lowered
        or "executable file not found" in lowered
        or ("exec" in lowered and "no such file or directory" in lowered)
    )


def state_of(attrs: Mapping[str, Any]) -> WorkloadState:
    """The WorkloadState of an inspected container (a container whose start failed is EXITED, not PENDING)."""
    state = attrs.get("State") or {}
    status = state.get("Status", "")
    if status == "created":
        return WorkloadState.EXITED if state.get("Error") else WorkloadState.PENDING
    if status in RUNNING_STATES:
        return WorkloadState.RUNNING
    if status in EXITED_STATES:
        return WorkloadState.EXITED
    return WorkloadState.PENDING


def never_started(attrs: Mapping[str, Any]) -> bool:
    """Whether the container was created but never started (so starting it runs the workflow once)."""
    state = attrs.get("State") or {}
    return state.get("Status") == "created" and parse_time(state.get("StartedAt")) is None


def status_from_attrs(attrs: Mapping[str, Any], peak_memory: int | None, cpu_seconds: float | None) -> RuntimeStatus:
    """A RuntimeStatus from `docker inspect` output and the highest usage sampled so far."""
    state = attrs.get("State") or {}
    workload_state = state_of(attrs)
    exited = workload_state is WorkloadState.EXITED
    message = state.get("Error") or ""
    return RuntimeStatus(
        state=workload_state,
        ref=attrs.get("Id", ""),
        exit_code=state.get("ExitCode") if exited else None,
        oom_killed=bool(state.get("OOMKilled")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")) if exited else None,
        peak_memory_bytes=peak_memory,
        cpu_seconds=cpu_seconds,
        message=message,
        image_error=is_image_error(message),
    )


def _log_entries(raw: bytes, stream: str) -> Iterator[tuple[int, int, LogLine]]:
    """(nanosecond sort key, position, line) for each `timestamps=True` log line of one stream."""
    last_key, last_at = 0, EPOCH
    for position, piece in enumerate(raw.decode("utf-8", "replace").split("\n")):
        match = TIMESTAMP.match(piece)
        if match:
            at = parse_time(piece[: match.end()].strip())
            fraction = int((match.group(2) or "0").ljust(9, "0"))
            last_key, last_at = int(at.replace(microsecond=0).timestamp()) * 1_000_000_000 + fraction, at
            message = piece[match.end():]
        elif piece == "":
            continue  # what follows the last newline
        else:  # a piece without a timestamp (a split line): it belongs with the line before
            message = piece
        yield last_key, position, LogLine(at=last_at, stream=stream, message=message.removesuffix("\r"))


def merge_logs(stdout: bytes, stderr: bytes) -> Iterator[LogLine]:
    """The lines of both streams in time order (each stream's own order kept; stdout first on a tie)."""
    streams: Iterable[Iterator[tuple[int, int, LogLine]]] = (
        _log_entries(stdout, "stdout"), _log_entries(stderr, "stderr"))
    for _key, _position, line in heapq.merge(*streams, key=lambda entry: entry[0]):
        yield line
