"""The log viewer's reads of a run already fetched through `run_list`: a window of lines, the first error, the
live tail's JSON page, and the whole log as text. Lines were masked when they were stored; nothing here unmasks.

Every read is a range of the (run, seq) unique index; `seq` numbers a run's lines from 1 with no gap, so the
last N lines are the ones after `last seq - N`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from controlplane.runs.models import RunLogLine
from controlplane.runs.selectors import log_line_list
from flowyard_spec.states import RunState

WINDOW_LINES = 500
TAIL_LIMIT = 500
DOWNLOAD_CHUNK = 2000
ERROR_LEVELS = ("ERROR", "CRITICAL")


@dataclass(frozen=True)
class LogWindow:
    """The lines the page shows, and where they sit in the whole log."""

    lines: list[Any]
    last_seq: int
    earlier_from: int | None  # where the previous window starts (None: these lines start the log)

    @property
    def after(self) -> int:
        """The sequence number the live tail continues after."""
        return self.lines[-1].seq if self.lines else 0


def is_error(line: Any) -> bool:
    """An error line: level ERROR (or CRITICAL), or anything written to stderr."""
    return (line.level or "").upper() in ERROR_LEVELS or line.stream == "stderr"


def last_seq(run: Any) -> int:
    """The run's last line number (0 when it has none)."""
    return RunLogLine.objects.filter(run=run).order_by("-seq").values_list("seq", flat=True).first() or 0


def first_error_seq(run: Any) -> int | None:
    """The number of the run's first error line, or None."""
    errors = Q(level__in=[*ERROR_LEVELS, *(level.lower() for level in ERROR_LEVELS)]) | Q(stream="stderr")
    return RunLogLine.objects.filter(run=run).filter(errors).order_by("seq").values_list("seq", flat=True).first()


def log_window(run: Any, start: int | None = None, size: int = WINDOW_LINES) -> LogWindow:
    """`size` lines from line `start`, or the last `size` lines when no start is given; each knows if it is an error."""
    last = last_seq(run)
    after = max(start - 1, 0) if start else max(last - size, 0)
    lines = log_line_list(run=run, after=after, limit=size)
    for line in lines:
        line.is_error = is_error(line)
    return LogWindow(lines=lines, last_seq=last, earlier_from=max(after - size + 1, 1) if after > 0 else None)


def line_as_json(line: Any) -> dict[str, Any]:
    """One line as the live tail receives it."""
    return {"seq": line.seq, "at": line.at.isoformat(), "stream": line.stream, "level": line.level,
            "task_key": line.task_key, "message": line.message, "error": is_error(line)}


def tail_page(run: Any, after: int, limit: int = TAIL_LIMIT) -> dict[str, Any]:
    """The lines after `after`, the cursor to continue from, and whether the log is complete.

    The run's state was read (fetching the run) before the lines: a terminal state then means no line follows.
    """
    lines = log_line_list(run=run, after=after, limit=limit)
    terminal = RunState(run.state).is_terminal
    return {"lines": [line_as_json(line) for line in lines], "next_after": lines[-1].seq if lines else after,
            "run_state": run.state, "done": terminal and len(lines) < limit}


def line_as_text(line: Any) -> str:
    """One line of the downloaded log: time, stream, level, task, message."""
    fields = [line.at.isoformat(), line.stream, line.level or "-", line.task_key or "-"]
    return " ".join(fields) + " " + line.message.replace("\r\n", "\n").replace("\n", "\n    ") + "\n"


def _wanted(line: Any, task: str, level: str, query: str) -> bool:
    return ((not task or line.task_key == task) and (not level or (line.level or "").upper() == level)
            and (not query or query in line.message.lower()))


def text_lines(run: Any, *, task: str = "", level: str = "", query: str = "") -> Iterator[str]:
    """Every line of the run (or those of a task, a level, containing `query`), chunk by chunk, as text."""
    after, query = 0, query.lower()
    while True:
        chunk = log_line_list(run=run, after=after, limit=DOWNLOAD_CHUNK)
        for line in chunk:
            if _wanted(line, task, level, query):
                yield line_as_text(line)
        if len(chunk) < DOWNLOAD_CHUNK:
            return
        after = chunk[-1].seq
