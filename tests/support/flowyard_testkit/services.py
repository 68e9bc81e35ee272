"""Services of a test's own, which it may stop and start again: never the machine's Redis on 6379."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import kombu.pools
import pytest
import redis

from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port


class OwnRedis:
    """A throwaway redis-server on a free loopback port, keeping nothing on disk; `stop()` and `start()` again
    keep its port, as a broker outage does."""

    def __init__(self) -> None:
        self.port = free_port()
        assert self.port != 6379
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The broker URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def pings(self) -> bool:
        """Whether it answers now."""
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        """Start it (again) and wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self.pings, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop it (what it held is lost, as with a broker that restarts without persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """The test's own broker (scripts/provision installs redis-server; a machine without it fails here, loudly)."""
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Send this process's Celery messages (the live server's enqueues) to `url` while the block runs."""
    from controlplane.celery import app

    previous = app.conf.broker_url

    def reset() -> None:
        # app.pool is kombu's process-wide pool for the URL, kept in kombu.pools' groups: closing it
        # alone would leave a closed pool there for the next user of that URL ("Acquire on closed
        # pool"). kombu.pools.reset closes every pool and empties the groups, so each URL starts anew.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset()
    app.conf.broker_url = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url = previous
