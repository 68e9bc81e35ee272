"""The Docker hosts of a target: a lazily made client per host, and how engine errors become backend errors."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import docker
import requests
from docker.errors import APIError, DockerException

from controlplane.runtimes.backends.base import LaunchFailed, TargetUnavailable
from controlplane.runtimes.backends.docker.config import HostSettings

UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class Host:
    """One Docker host of the target: its settings and a lazily made, reused client."""

    def __init__(self, index: int, settings: HostSettings, timeout: float) -> None:
        self.index = index
        self.settings = settings
        self.timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

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
