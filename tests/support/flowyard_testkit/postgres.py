"""A PostgreSQL cluster of a test's own (`initdb` + `pg_ctl`, as the postgres user when run as root), on a free
loopback port with its socket in its own directory: a test may stop and start it; never the machine's server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (Debian: postgresql)", pytrace=False)
    return found[-1]


class OwnPostgres:
    """One cluster: `start()`, `stop()` (fast shutdown: connections are cut, as in an outage), `destroy()`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="fypg-", dir="/tmp"))
        self.data = self.base / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")

    @property
    def url(self) -> str:
        """A database URL of its `postgres` database, over TCP on loopback."""
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{' '.join(command)} failed: {result.stdout}{result.stderr}"

    def init(self) -> OwnPostgres:
        """Create the cluster (trust authentication on loopback only)."""
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self

    def start(self) -> None:
        """Start (again) and wait until it takes connections."""
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log"), "-w", "start")
        wait_until(self.answers, timeout=30, what=f"PostgreSQL on port {self.port}")

    def answers(self) -> bool:
        """Whether it accepts connections now."""
        return subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True).returncode == 0

    def stop(self) -> None:
        """Stop it at once, cutting every connection."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop it if it runs, and remove its files."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", _bin("pg_ctl"), "-D", str(self.data), "-m",
                            "immediate", "-w", "stop"] if os.geteuid() == 0 else
                           [_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A started cluster of the test's own, removed after."""
    cluster = OwnPostgres().init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
