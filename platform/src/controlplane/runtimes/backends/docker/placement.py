"""Placement: which of a target's Docker hosts a new run's container is created on.

With several hosts the answering host with the fewest active (created, running, paused, restarting) Flowyard
containers wins, the earlier host on a tie; silent hosts are skipped. Every Flowyard container counts, whichever
installation launched it: load is load.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.runtimes.backends.base import MANAGED_LABEL, TargetUnavailable
from controlplane.runtimes.backends.docker.hosts import Host, answers
from controlplane.runtimes.backends.docker.mapping import ACTIVE_STATES

MANAGED_FILTER = f"{MANAGED_LABEL}=true"


def active_containers(host: Host) -> int:
    """How many Flowyard containers on `host` are active; `TargetUnavailable` when it does not answer."""
    client = host.client()
    with answers(host):
        return len(client.containers.list(all=True, sparse=True,
                                          filters={"label": MANAGED_FILTER, "status": sorted(ACTIVE_STATES)}))


def least_busy_host(hosts: Sequence[Host]) -> Host:
    """The answering host with the fewest active Flowyard containers (the first on a tie)."""
    if len(hosts) == 1:
        return hosts[0]
    loads = []
    for host in hosts:
        try:
            loads.append((active_containers(host), host.index))
        except TargetUnavailable:
            continue
    if not loads:
        raise TargetUnavailable("no Docker host of this target answers")
    return next(host for host in hosts if host.index == min(loads)[1])
