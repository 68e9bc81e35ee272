"""The kernel's own usage figures for a container, read from its cgroup when its engine runs on this machine.

A container's cgroup keeps the memory high-water mark since the container started (cgroup v2 `memory.peak`,
v1 `memory.max_usage_in_bytes`) and the CPU time used (v2 `cpu.stat` usage_usec, v1 `cpuacct.usage`). The
cgroup is found through `/proc/<pid>/cgroup` of the container's main process, and used only when its path
names the container's id: a remote engine's pid means nothing here, and then the engine's stats API is the
only source. The files vanish with the container, so they must be read while it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"
NANOSECONDS = 1e9
MICROSECONDS = 1e6


class CgroupGone(Exception):
    """The container's cgroup no longer exists: the container has exited."""


@dataclass(frozen=True)
class CgroupUsage:
    """One reading of a container's cgroup: the memory high-water mark, CPU seconds and OOM kills so far."""

    peak_memory_bytes: int | None
    cpu_seconds: float | None
    oom_kills: int = 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError) as exc:
        raise CgroupGone(path) from exc
    except OSError as exc:  # ENODEV and friends while the cgroup is being removed
        raise CgroupGone(path) from exc


def _keyed(text: str) -> dict[str, int]:
    """`key value` lines (cpu.stat, memory.events, memory.oom_control) as a dict."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


@dataclass(frozen=True)
class ContainerCgroup:
    """Where one container's cgroup files are on this machine (v2: one directory; v1: memory and cpuacct)."""

    memory_dir: str
    cpu_dir: str
    version: int

    @classmethod
    def of(cls, pid: int | None, container_id: str) -> ContainerCgroup | None:
        """The cgroup of the container whose main process is `pid`, or None when it is not visible here."""
        if not pid or not container_id:
            return None
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        unified, memory, cpu = None, None, None
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if container_id not in path:
                continue
            names = controllers.split(",")
            if controllers == "":
                unified = os.path.join(CGROUP_ROOT, path.lstrip("/"))
            if "memory" in names:
                memory = cls._v1_dir(controllers, "memory", path)
            if "cpuacct" in names:
                cpu = cls._v1_dir(controllers, "cpuacct", path)
        if memory and cpu:
            return cls(memory, cpu, 1)
        if unified and os.path.isfile(os.path.join(unified, "memory.current")):
            return cls(unified, unified, 2)
        return None

    @staticmethod
    def _v1_dir(controllers: str, name: str, path: str) -> str | None:
        for mount in (controllers, name):  # e.g. /sys/fs/cgroup/cpu,cpuacct or /sys/fs/cgroup/cpuacct
            directory = os.path.join(CGROUP_ROOT, mount, path.lstrip("/"))
            if os.path.isdir(directory):
                return directory
        return None

    def read(self) -> CgroupUsage:
        """The figures now; `CgroupGone` once the container has exited."""
        if self.version == 2:
            try:
                peak = int(_read(os.path.join(self.memory_dir, "memory.peak")))
            except CgroupGone:  # kernels before 5.19 have no memory.peak: the current usage, kept at its highest
                peak = int(_read(os.path.join(self.memory_dir, "memory.current")))
            usage_usec = _keyed(_read(os.path.join(self.cpu_dir, "cpu.stat"))).get("usage_usec")
            events = _keyed(_read(os.path.join(self.memory_dir, "memory.events")))
            cpu = usage_usec / MICROSECONDS if usage_usec is not None else None
            return CgroupUsage(peak or None, cpu, events.get("oom_kill", 0))
        peak = int(_read(os.path.join(self.memory_dir, "memory.max_usage_in_bytes")))
        cpu_ns = int(_read(os.path.join(self.cpu_dir, "cpuacct.usage")))
        oom = _keyed(_read(os.path.join(self.memory_dir, "memory.oom_control"))).get("oom_kill", 0)
        return CgroupUsage(peak or None, cpu_ns / NANOSECONDS if cpu_ns else None, oom)
