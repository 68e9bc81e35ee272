"""The kernel's own usage figures for a container, read from its cgroup when its engine runs on this machine.

A container's cgroup keeps the memory high-water mark since the container started (cgroup v2 `memory.peak`,
v1 `memory.max_usage_in_bytes`) and the CPU time used (v2 `cpu.stat` usage_usec, v1 `cpuacct.usage`). The
cgroup is found through `/proc/<pid>/cgroup` of the container's main process, and used only when its path
names the container's id: a remote engine's pid means nothing here, and then the engine's stats API is the
only source. The engine's later containers are found at the same path with their own id (`sibling`), without
asking the engine for their process. The files vanish with the container, so they must be read while it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

CGROUP_ROOT = "/sys/fs/cgroup"
NANOSECONDS = 1e9
MICROSECONDS = 1e6


class CgroupGone(Exception):
    """The container's cgroup no longer exists: the container has exited."""


@dataclass(frozen=True)
class CgroupUsage:
    """One reading of a container's cgroup: the memory high-water mark and the CPU seconds so far."""

    peak_memory_bytes: int | None
    cpu_seconds: float | None


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError) as exc:
        raise CgroupGone(path) from exc
    except OSError as exc:  # ENODEV and friends while the cgroup is being removed
        raise CgroupGone(path) from exc


def _usage_usec(text: str) -> int | None:
    """`usage_usec` of a cgroup v2 cpu.stat."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value)
    return None


@dataclass(frozen=True)
class ContainerCgroup:
    """The two files of one container's cgroup that a reading needs: the memory high-water mark (v2 `memory.peak`,
    or `memory.current` on kernels before 5.19, which lack it; v1 `memory.max_usage_in_bytes`) and the CPU time
    (v2 `cpu.stat`, v1 `cpuacct.usage`)."""

    container_id: str
    memory_file: str
    cpu_file: str
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
            return cls(container_id, os.path.join(memory, "memory.max_usage_in_bytes"),
                       os.path.join(cpu, "cpuacct.usage"), 1)
        if unified and os.path.isfile(os.path.join(unified, "memory.current")):
            peak = os.path.join(unified, "memory.peak")
            return cls(container_id, peak if os.path.isfile(peak) else os.path.join(unified, "memory.current"),
                       os.path.join(unified, "cpu.stat"), 2)
        return None

    @staticmethod
    def _v1_dir(controllers: str, name: str, path: str) -> str | None:
        for mount in (controllers, name):  # e.g. /sys/fs/cgroup/cpu,cpuacct or /sys/fs/cgroup/cpuacct
            directory = os.path.join(CGROUP_ROOT, mount, path.lstrip("/"))
            if os.path.isdir(directory):
                return directory
        return None

    def sibling(self, container_id: str) -> ContainerCgroup | None:
        """The cgroup of another container of the same engine, found without asking the engine for its process:
        an engine puts every container's cgroup in one place (its cgroup driver and parent), named by the
        container's id. None when it is not there (the container has exited, or has a cgroup parent of its own)."""
        memory = self.memory_file.replace(self.container_id, container_id)
        cpu = self.cpu_file.replace(self.container_id, container_id)
        if not (os.path.isfile(memory) and os.path.isfile(cpu)):
            return None
        return replace(self, container_id=container_id, memory_file=memory, cpu_file=cpu)

    def read(self) -> CgroupUsage:
        """The figures now; `CgroupGone` once the container has exited."""
        peak = int(_read(self.memory_file))
        if self.version == 2:
            usage_usec = _usage_usec(_read(self.cpu_file))
            return CgroupUsage(peak or None, usage_usec / MICROSECONDS if usage_usec is not None else None)
        cpu_ns = int(_read(self.cpu_file))
        return CgroupUsage(peak or None, cpu_ns / NANOSECONDS if cpu_ns else None)
