"""Scheduler and launcher processes for end-to-end and benchmark tests: Celery workers that consume one queue
each (the production layout: a scheduler never waits behind launches), their logs read back, and their Redis
queues deleted afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flowyard_testkit.platform import BIN, WorkerProcess, wait_until

TICK_RESULT = re.compile(r"scheduler_tick\[[^\]]+\] succeeded in [0-9.e-]+s: \{'created': (\d+)")


def unique_queue(purpose: str) -> str:
    """A Celery queue name of its own for one test (nothing else ever reads or writes it)."""
    return f"flowyard-test-{purpose}-{uuid.uuid4().hex[:10]}"


def drop_queues(*names: str) -> None:
    """Delete Celery queues (Redis lists) with whatever messages nobody consumed."""
    import redis

    redis.Redis.from_url(os.environ["FLOWYARD_BROKER_URL"]).delete(*names)


class QueueWorker(WorkerProcess):
    """`celery -A controlplane worker -Q QUEUE`, with beat (`-B`, its own schedule file) when it is a scheduler."""

    def __init__(self, env: dict[str, str], log_path: Path, queue: str, *, beat: bool, pool: str = "solo",
                 concurrency: int = 1) -> None:
        super().__init__(env, log_path)
        self.queue, self.beat, self.pool, self.concurrency = queue, beat, pool, concurrency

    def start(self) -> "QueueWorker":
        """Start the worker and wait until it is ready."""
        command = [str(BIN / "celery"), "-A", "controlplane", "worker", "-Q", self.queue, f"--pool={self.pool}",
                   f"--concurrency={self.concurrency}", "--loglevel=INFO", "-n", f"{self.log_path.stem}@%h"]
        if self.beat:
            command += ["-B", "-s", str(self.log_path.with_suffix(".schedule"))]
        started_at = self.log_size()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_until(lambda: b"ready." in self.log_path.read_bytes()[started_at:] or self.process.poll() is not None,
                   timeout=60, what=f"the Celery worker {self.log_path.stem} to be ready")
        assert self.process.poll() is None, self.log()
        return self

    def log_size(self) -> int:
        """The log's length now, to read only what a later period wrote."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def runs_created(self, since: int = 0) -> list[int]:
        """How many runs each scheduler pass of this process created, in order (from its log after `since`)."""
        text = self.log_path.read_bytes()[since:].decode(errors="replace")
        return [int(count) for count in TICK_RESULT.findall(text)]


def scheduler_env(database_url: str, *, scheduler_queue: str, task_queue: str, **extra: str) -> dict[str, str]:
    """The environment of a control-plane worker on the test database with the given queues."""
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "controlplane.settings.test", "FLOWYARD_DATABASE_URL": database_url,
        "FLOWYARD_SCHEDULER_QUEUE": scheduler_queue, "FLOWYARD_TASK_QUEUE": task_queue,
        "FLOWYARD_SCHEDULER_SECONDS": "1", **extra,
    }


def minute_boundaries(after: datetime, until: datetime) -> list[datetime]:
    """Every whole UTC minute in (after, until]."""
    first = after.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    boundaries = []
    while first <= until:
        boundaries.append(first)
        first += timedelta(minutes=1)
    return boundaries


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
