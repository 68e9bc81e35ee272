"""Placement: which of a target's Docker hosts a new run's container is created on.

Each host may reserve its capacity: `max_memory` in its settings, else the engine's memory, and `max_cpus` when
set (CPU limits are shares of time, so by default they are not bounded). What is reserved is the sum of the memory
and CPU limits of the active (created, running, paused, restarting) Flowyard containers on it, read from their
labels in one list call per host; every installation's containers count: load is load. The run goes to the host
where it fits with the most memory left (the earlier host on a tie). A host that does not answer is marked
unhealthy and passed over for `UNHEALTHY_SECONDS`; when no host has room, the launch waits (`TargetUnavailable`:
the run stays QUEUED and says why).

A backend instance lists a host's reservations at most once every `LISTING_SECONDS` and adds the launches it
placed there since (as Kubernetes' scheduler "assumes" the pods it has just bound): a burst of launches makes a
list call a second, not one each (the engine builds every listed container's summary: about 12 ms of its CPU for
50 containers). What it misses meanwhile is other processes' launches of the last second; what it over-counts
(containers that exited meanwhile) never refuses a launch: a run that does not fit on that view is placed on a
fresh listing of every host, which also words the refusal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.runtimes.backends.base import MANAGED_LABEL, TargetUnavailable
from controlplane.runtimes.backends.docker.hosts import Host, Reservations, answers
from controlplane.runtimes.backends.docker.mapping import ACTIVE_STATES, CPU_LABEL, MEMORY_LABEL

logger = logging.getLogger(__name__)

MANAGED_FILTER = f"{MANAGED_LABEL}=true"
LISTING_SECONDS = 1.0  # how long a host's listed reservations (plus the launches placed since) stand


@dataclass(frozen=True)
class Room:
    """A host's capacity and what active Flowyard containers reserve of it."""

    host: Host
    memory_mib: int
    cpu_units: int | None  # None: CPU is not bounded on this host
    reserved_memory_mib: int
    reserved_cpu_units: int

    def fits(self, memory_mib: int, cpu_units: int) -> bool:
        """Whether a container asking this much fits in what is left."""
        return (self.reserved_memory_mib + memory_mib <= self.memory_mib
                and (self.cpu_units is None or self.reserved_cpu_units + cpu_units <= self.cpu_units))

    def describe(self) -> str:
        """What is reserved of what, for messages."""
        cpus = "unbounded" if self.cpu_units is None else f"{self.cpu_units / 1024:g}"
        return (f"{self.host.label}: {self.reserved_memory_mib} of {self.memory_mib} MiB and "
                f"{self.reserved_cpu_units / 1024:g} of {cpus} CPUs reserved")


def _label_int(labels: dict[str, str], key: str) -> int:
    try:
        return max(0, int(labels.get(key, "0")))
    except ValueError:
        return 0


def room_on(host: Host, *, fresh: bool = False) -> Room:
    """The host's capacity and reservations (listed again when `fresh` or older than LISTING_SECONDS);
    `TargetUnavailable` when it does not answer."""
    memory, cpu = host.capacity()
    with host.reservations_lock:  # launches placed meanwhile wait for this listing rather than make their own
        seen: Reservations | None = host.reservations
        if fresh or seen is None or time.monotonic() - seen.listed_at > LISTING_SECONDS:
            client = host.client()
            with answers(host):
                containers = client.api.containers(all=True, filters={"label": MANAGED_FILTER,
                                                                      "status": sorted(ACTIVE_STATES)})
            labels = [container.get("Labels") or {} for container in containers]
            seen = host.reservations = Reservations(time.monotonic(),
                                                    sum(_label_int(item, MEMORY_LABEL) for item in labels),
                                                    sum(_label_int(item, CPU_LABEL) for item in labels))
        return Room(host, memory, cpu, seen.memory_mib, seen.cpu_units)


def _assume(host: Host, memory_mib: int, cpu_units: int) -> None:
    """Count a launch placed on `host` in its reservations until they are listed again."""
    with host.reservations_lock:
        if host.reservations is not None:
            host.reservations.memory_mib += memory_mib
            host.reservations.cpu_units += cpu_units


def _rooms(hosts: Sequence[Host], *, fresh: bool) -> tuple[list[Room], list[str]]:
    """The rooms of the hosts that answer, and what the silent ones said (they are marked unhealthy)."""
    rooms: list[Room] = []
    silent: list[str] = []
    for host in hosts:
        try:
            rooms.append(room_on(host, fresh=fresh))
        except TargetUnavailable as exc:
            host.mark_unhealthy(str(exc))
            logger.warning("Docker host %s is unhealthy, passed over for a while: %s", host.label, exc)
            silent.append(str(exc))
            continue
        host.mark_healthy()
    return rooms, silent


def _best(rooms: Sequence[Room], memory_mib: int, cpu_units: int) -> Host | None:
    """The host where the container fits with the most memory left (the earlier one on a tie), or None."""
    fitting = [room for room in rooms if room.fits(memory_mib, cpu_units)]
    if not fitting:
        return None
    return max(fitting, key=lambda room: (room.memory_mib - room.reserved_memory_mib, -room.host.index)).host


def place(hosts: Sequence[Host], *, memory_mib: int, cpu_units: int) -> Host:
    """The host a container of `memory_mib` and `cpu_units` goes to (see the module docstring)."""
    candidates = [host for host in hosts if host.healthy] or list(hosts)
    rooms, silent = _rooms(candidates, fresh=False)
    best = _best(rooms, memory_mib, cpu_units)
    if best is None and rooms:  # nothing fits on the view of the last second: look again before refusing
        rooms, more_silent = _rooms([room.host for room in rooms], fresh=True)
        silent += more_silent
        best = _best(rooms, memory_mib, cpu_units)
    if best is not None:
        _assume(best, memory_mib, cpu_units)
        return best
    if not rooms:
        raise TargetUnavailable("no Docker host of this target answers: " + "; ".join(silent))
    raise TargetUnavailable(
        f"no Docker host has room for {memory_mib} MiB and {cpu_units / 1024:g} CPUs now ("
        + "; ".join(room.describe() for room in rooms) + (f"; {'; '.join(silent)}" if silent else "") + ")")
