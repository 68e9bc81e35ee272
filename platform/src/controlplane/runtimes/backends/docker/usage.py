"""How much memory and CPU a run's container used: watched from launch (or first sight) until it exits.

`UsageMonitor.watch` starts one daemon thread per running container (at most `MAX_WATCHED`) that samples it
until it exits, keeping the highest figures per run in the backend instance:
- when the engine runs on this machine, the thread reads the container's cgroup every `CGROUP_SECONDS`
  (`cgroups`): the kernel's high-water mark since the container started, so the last reading before the
  container dies is the run's peak (also for a watcher that started late);
- otherwise it asks the engine's stats API (one-shot where the API allows it; at most `STATS_AT_ONCE` requests
  in flight, as the docker client keeps 10 connections per host). The engine answers at its next collection
  tick (up to a second, two without one-shot), which is why this never happens in a caller's thread. cgroup v1
  engines report the kernel's high-water mark (`max_usage`) there too; v2 only the current usage, so the
  highest sample stands for the peak.
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
    """Samples each watched container until it exits; the highest memory and CPU seen, by run id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[str, Usage] = {}
        self._watched: set[str] = set()  # container ids with a watcher thread
        self._stats_slots = threading.BoundedSemaphore(STATS_AT_ONCE)
        self._closed = threading.Event()

    def watch(self, run_id: str, host: Host, container_id: str) -> None:
        """Follow a running container's usage until it exits, unless it is followed already."""
        with self._lock:
            if container_id in self._watched or len(self._watched) >= MAX_WATCHED or self._closed.is_set():
                return
            self._watched.add(container_id)
        threading.Thread(target=self._follow, args=(run_id, host, container_id), daemon=True,
                         name=f"flowyard-usage-{container_id[:12]}").start()

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

    def _record(self, run_id: str, memory: int | None, cpu: float | None) -> None:
        with self._lock:
            old_memory, old_cpu = self._usage.get(run_id, (None, None))
            self._usage[run_id] = (higher(old_memory, memory), higher(old_cpu, cpu))

    def _follow(self, run_id: str, host: Host, container_id: str) -> None:
        """The watcher thread: sample until the container exits (or the backend closes)."""
        try:
            cgroup = self._cgroup_of(host, container_id)
            while not self._closed.is_set():
                if cgroup is not None:
                    try:
                        reading = cgroup.read()
                    except CgroupGone:
                        return  # the container has exited: the last reading stands
                    self._record(run_id, reading.peak_memory_bytes, reading.cpu_seconds)
                    self._closed.wait(CGROUP_SECONDS)
                elif not self._sample_stats(run_id, host, container_id):
                    return
                else:
                    self._closed.wait(STATS_PAUSE_SECONDS)
        except Exception:  # a watcher has nobody to raise to; the run just lacks later samples
            logger.warning("stopped following the usage of container %s", container_id[:12], exc_info=True)
        finally:
            with self._lock:
                self._watched.discard(container_id)

    @staticmethod
    def _cgroup_of(host: Host, container_id: str) -> ContainerCgroup | None:
        """The container's cgroup when it is visible on this machine (None: use the stats API)."""
        try:
            with answers(host):
                state = host.client().api.inspect_container(container_id).get("State") or {}
        except (TargetUnavailable, NotFound):
            return None
        return ContainerCgroup.of(state.get("Pid"), container_id)

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
