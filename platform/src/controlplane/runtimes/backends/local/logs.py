"""A local run's output as `LogLine`s: the supervisor's stamped stdout.log and stderr.log, merged by time."""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Iterator
from pathlib import Path

from controlplane.runtimes.backends.base import LogLine
from controlplane.runtimes.backends.local import supervisor as sup

EPOCH = datetime.datetime.fromtimestamp(0, datetime.timezone.utc)


def parse_time(text: str | None) -> datetime.datetime | None:
    """An ISO 8601 time the supervisor wrote, or None when there is none (or it is not a time)."""
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def read_log(path: Path, stream: str, fallback: datetime.datetime) -> Iterator[LogLine]:
    """The complete lines of one stamped log file; a line without a stamp takes the previous line's time."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return  # the supervisor is still writing this line
            text = raw[:-1].decode("utf-8", "replace")
            at = None
            if len(text) > sup.TIMESTAMP_WIDTH and text[sup.TIMESTAMP_WIDTH] == " ":
                at = parse_time(text[:sup.TIMESTAMP_WIDTH])
            if at is None:
                yield LogLine(at=fallback, stream=stream, message=text)
            else:
                fallback = at
                yield LogLine(at=at, stream=stream, message=text[sup.TIMESTAMP_WIDTH + 1:])


def merged_logs(run_dir: Path) -> Iterator[LogLine]:
    """stdout and stderr lines of the run in `run_dir`, merged oldest first."""
    started = parse_time(sup.read_text(str(run_dir / sup.STARTED_AT))) or EPOCH
    streams = [read_log(run_dir / sup.STDOUT, "stdout", started), read_log(run_dir / sup.STDERR, "stderr", started)]
    return heapq.merge(*streams, key=lambda line: line.at)
