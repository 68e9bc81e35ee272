"""How much memory and CPU a run's container used: watched from launch (or first sight) until it exits.

`UsageMonitor.watch` follows a running container (at most `MAX_WATCHED` at once) until it exits, keeping the
highest figures per run in the backend instance:
- when the engine runs on this machine, one sampler thread reads every followed container's cgroup every
  `CGROUP_SECONDS` (`cgroups`): the kernel's high-water mark since the container started, so the last reading
  before the container dies is the run's peak (also for a container first seen late). The engine is asked for the
  first container's process to find its cgroup; later ones are found beside it;
- otherwise a thread per container asks the engine's stats API (one-shot where the API allows it; at most
  `STATS_AT_ONCE` requests in flight, as the docker client keeps 10 connections per host). The engine answers at
  its next collection tick (up to a second, two without one-shot), which is why this never happens in a caller's
  thread. cgroup v1 engines report the kernel's high-water mark (`max_usage`) there too; v2 only the current
  usage, so the highest sample stands for the peak.
When the kernel OOM-killed the container its memory reached the limit: `final_usage` then reports the limit
rather than a sample that may be from long before the end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests
from docker.errors import DockerException, NotFound
from docker.utils import version_gte

from controlplane.runtimes.backends.base import TargetUnavailable
from controlplane.runtimes.backends.docker.cgroups import CgroupGone, ContainerCgroup
from controlplane.runtimes.backends.docker.hosts import Host, answers

logger = logging.getLogger(__name__)

CGROUP_SECONDS = 0.2  # between two readings of a container's cgroup files (a few reads of small files)
STATS_PAUSE_SECONDS = 0.5  # after each stats answer (which itself takes up to a second or two)
STATS_AT_ONCE = 8  # stats requests in flight at once
MAX_WATCHED = 256  # containers watched at once by one backend instance; more are sampled by nobody
Usage = tuple[int | None, float | None]  # (peak memory bytes, CPU seconds)


def higher(old: Any, new: Any) -> Any:
    """The larger of two optional numbers."""
    return new if old is None else old if new is None else max(old, new)


def usage_from_stats(stats: Mapping[str, Any]) -> Usage:
    """(memory high-water mark in bytes, CPU seconds) from one `stats(stream=False)` answer.

    cgroup v1 keeps the high-water mark itself (`max_usage`); cgroup v2 only reports the current `usage`, so
    the caller keeps the highest sample.
    """
    memory = stats.get("memory_stats") or {}
    peak = memory.get("max_usage") or memory.get("usage")
    cpu_ns = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    return (int(peak) if peak else None), (cpu_ns / 1e9 if cpu_ns else None)


def final_usage(attrs: Mapping[str, Any], sampled: Usage) -> Usage:
    """The usage to report for an inspected container: for an OOM-killed one, its memory limit at least."""
    state = attrs.get("State") or {}
    limit = (attrs.get("HostConfig") or {}).get("Memory") or None
    memory, cpu = sampled
    if state.get("OOMKilled") and limit:
        memory = higher(memory, int(limit))
    return memory, cpu


class UsageMonitor:
    """Samples each watched container until it exits; the highest memory and CPU seen, by run id.

    Containers whose cgroup is readable here share one sampler thread (a few small file reads each per round);
    a container on another machine has a thread of its own, as each stats request waits for the engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[str, Usage] = {}
        self._watched: set[str] = set()  # container ids followed (by the sampler or a stats thread)
        self._arrived: list[tuple[str, Host, str]] = []  # (run id, host, container id) the sampler has not seen yet
        self._cgroups: dict[str, tuple[str, ContainerCgroup]] = {}  # container id -> (run id, its cgroup)
        self._cgroup_seen: dict[int, ContainerCgroup] = {}  # host index -> a cgroup found there (sampler thread only)
        self._sampler: threading.Thread | None = None
        self._wake = threading.Event()
        self._stats_slots = threading.BoundedSemaphore(STATS_AT_ONCE)
        self._closed = threading.Event()

    def watch(self, run_id: str, host: Host, container_id: str) -> None:
        """Follow a running container's usage until it exits, unless it is followed already."""
        with self._lock:
            if container_id in self._watched or len(self._watched) >= MAX_WATCHED or self._closed.is_set():
                return
            self._watched.add(container_id)
            self._arrived.append((run_id, host, container_id))
            if self._sampler is None:
                self._sampler = threading.Thread(target=self._sample, daemon=True, name="flowyard-usage")
                self._sampler.start()
        self._wake.set()  # its first sample now: short runs get a peak too

    def usage(self, run_id: str) -> Usage:
        """The highest (memory, CPU) seen for the run so far ((None, None) when never sampled)."""
        with self._lock:
            return self._usage.get(run_id, (None, None))

    def forget(self, run_id: str) -> None:
        """Drop what was seen of a run (its container was removed)."""
        with self._lock:
            self._usage.pop(run_id, None)

    def close(self) -> None:
        """Stop every watcher at its next sample."""
        self._closed.set()
        self._wake.set()

    def _record(self, run_id: str, memory: int | None, cpu: float | None) -> None:
        with self._lock:
            old_memory, old_cpu = self._usage.get(run_id, (None, None))
            self._usage[run_id] = (higher(old_memory, memory), higher(old_cpu, cpu))

    def _unwatch(self, container_id: str) -> None:
        with self._lock:
            self._watched.discard(container_id)
            self._cgroups.pop(container_id, None)

    def _sample(self) -> None:
        """The sampler thread: every CGROUP_SECONDS, read each followed cgroup (a container that exited is
        dropped: its last reading stands); ends when nothing is left to follow (`watch` starts another)."""
        while not self._closed.is_set():
            with self._lock:
                arrived, self._arrived = self._arrived, []
            for run_id, host, container_id in arrived:
                self._follow(run_id, host, container_id)
            with self._lock:
                followed = list(self._cgroups.items())
            for container_id, (run_id, cgroup) in followed:
                try:
                    reading = cgroup.read()
                except CgroupGone:
                    self._unwatch(container_id)  # the container has exited: the last reading stands
                    continue
                except Exception:  # a sampler has nobody to raise to; the run just lacks later samples
                    logger.warning("stopped following the usage of container %s", container_id[:12], exc_info=True)
                    self._unwatch(container_id)
                    continue
                self._record(run_id, reading.peak_memory_bytes, reading.cpu_seconds)
            with self._lock:
                if not self._cgroups and not self._arrived:
                    self._sampler = None
                    return
            self._wake.wait(CGROUP_SECONDS)
            self._wake.clear()
        with self._lock:
            self._sampler = None

    def _follow(self, run_id: str, host: Host, container_id: str) -> None:
        """Start following a container: by its cgroup in the sampler when it is readable here, else by the
        engine's stats API in a thread of its own."""
        try:
            cgroup = self._cgroup_of(host, container_id)
        except Exception:  # noqa: BLE001 - as for a sample: the run just lacks samples
            logger.warning("cannot follow the usage of container %s", container_id[:12], exc_info=True)
            self._unwatch(container_id)
            return
        if cgroup is not None:
            with self._lock:
                self._cgroups[container_id] = (run_id, cgroup)
            return
        threading.Thread(target=self._follow_stats, args=(run_id, host, container_id), daemon=True,
                         name=f"flowyard-usage-{container_id[:12]}").start()

    def _follow_stats(self, run_id: str, host: Host, container_id: str) -> None:
        """A stats thread: sample through the engine until the container exits (or the backend closes)."""
        try:
            while not self._closed.is_set() and self._sample_stats(run_id, host, container_id):
                self._closed.wait(STATS_PAUSE_SECONDS)
        except Exception:  # a watcher has nobody to raise to; the run just lacks later samples
            logger.warning("stopped following the usage of container %s", container_id[:12], exc_info=True)
        finally:
            self._unwatch(container_id)

    def _cgroup_of(self, host: Host, container_id: str) -> ContainerCgroup | None:
        """The container's cgroup when it is visible on this machine (None: use the stats API): beside a cgroup
        of the same host's found before, or else through its main process, which the engine is asked for."""
        known = self._cgroup_seen.get(host.index)
        found = known.sibling(container_id) if known is not None else None
        if found is not None:
            return found
        try:
            with answers(host):
                state = host.client().api.inspect_container(container_id).get("State") or {}
        except (TargetUnavailable, NotFound):
            return None
        found = ContainerCgroup.of(state.get("Pid"), container_id)
        if found is not None:
            self._cgroup_seen[host.index] = found
        return found

    def _sample_stats(self, run_id: str, host: Host, container_id: str) -> bool:
        """Record one stats sample; False once the container is gone or no longer running."""
        with self._stats_slots:
            try:
                api = host.client().api
                one_shot = {"one_shot": True} if version_gte(api.api_version, "1.41") else {}
                with answers(host):
                    stats = api.stats(container_id, stream=False, **one_shot)
            except (NotFound, TargetUnavailable):
                return False
            except (DockerException, requests.RequestException, ValueError) as exc:
                logger.debug("no stats for %s (it may have just exited): %s", container_id, exc)
                return False
        if not stats.get("memory_stats"):  # the engine answers an empty sample for a stopped container
            return False
        self._record(run_id, *usage_from_stats(stats))
        return True
