"""The Docker hosts of a target: a lazily made client per host, and how engine errors become backend errors."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import requests
from docker.errors import APIError, DockerException

from controlplane.runtimes.backends.base import LaunchFailed, TargetUnavailable
from controlplane.runtimes.backends.docker.config import HostSettings

UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
# A host that did not answer is passed over by placement for this long (unless no other host is left).
UNHEALTHY_SECONDS = 30.0
MIB = 1024 * 1024


@dataclass
class Reservations:
    """What a host's active Flowyard containers reserve, as placement listed them at `listed_at` (monotonic), plus
    the launches it placed there since (see `placement`)."""

    listed_at: float
    memory_mib: int
    cpu_units: int


class Host:
    """One Docker host of the target: its settings and a lazily made, reused client."""

    def __init__(self, index: int, settings: HostSettings, timeout: float) -> None:
        self.index = index
        self.settings = settings
        self.timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._capacity: tuple[int, int | None] | None = None
        self.unhealthy_until = 0.0  # time.monotonic() before which placement passes the host over
        self.last_error = ""
        self.reservations: Reservations | None = None  # placement's view of what is reserved here
        self.reservations_lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        """False for UNHEALTHY_SECONDS after the host last failed to answer."""
        return time.monotonic() >= self.unhealthy_until

    def mark_unhealthy(self, error: str) -> None:
        """Pass the host over for a while: it did not answer."""
        self.unhealthy_until = time.monotonic() + UNHEALTHY_SECONDS
        self.last_error = error

    def mark_healthy(self) -> None:
        """The host answered."""
        self.unhealthy_until, self.last_error = 0.0, ""

    def capacity(self) -> tuple[int, int | None]:
        """(MiB, CPU units) Flowyard may reserve here: `max_memory`, else the engine's memory; `max_cpus`, else no
        CPU bound (CPU limits are shares of time, so they may add up to more than the host has)."""
        if self._capacity is None:
            memory = self.settings.max_memory_mib
            if memory is None:
                client = self.client()
                with answers(self):
                    memory = int(client.info()["MemTotal"]) // MIB
            self._capacity = (memory, self.settings.max_cpu_units)
        return self._capacity

    @property
    def label(self) -> str:
        """How the host is named in messages."""
        return self.settings.label

    def client(self) -> docker.DockerClient:
        """The host's client; `TargetUnavailable` when the engine does not answer."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self.settings.connect(self.timeout)
                except (DockerException, *UNREACHABLE) as exc:
                    raise TargetUnavailable(f"the Docker host {self.label} does not answer: {exc}") from exc
            return self._client

    def close(self) -> None:
        """Close the client's connections (a later call connects again)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


@contextlib.contextmanager
def answers(host: Host, *, launching: bool = False) -> Iterator[None]:
    """Turn connection failures into `TargetUnavailable` and other engine errors into the backend's errors."""
    try:
        yield
    except UNREACHABLE as exc:
        raise TargetUnavailable(f"the Docker host {host.label} does not answer: {exc}") from exc
    except APIError as exc:
        explanation = exc.explanation or str(exc)
        if launching:
            raise LaunchFailed(f"the Docker host {host.label} refused the container: {explanation}") from exc
        raise TargetUnavailable(f"the Docker host {host.label} failed: {explanation}") from exc
