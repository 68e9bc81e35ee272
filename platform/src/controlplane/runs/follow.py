"""Following a run's log by long polling: a page after a cursor, waiting a while for one when there is none yet.

A waiting request asks the database every `POLL_SECONDS` (one primary-key read of the run's state and one
range read of the (run, seq) unique index), so it sees lines as soon as the runner's batch has committed.
That needs each poll to run outside a transaction: requests are not atomic (`ATOMIC_REQUESTS` is off), so
each query autocommits, sees what is committed (PostgreSQL, and SQLite in WAL mode) and holds no lock or
snapshot between polls. A waiting request holds its server thread (and that thread's database connection)
for up to `MAX_WAIT_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from controlplane.runs.models import Run, RunLogLine
from controlplane.runs.selectors import log_line_list
from flowyard_spec.states import RunState

MAX_WAIT_SECONDS = 30
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LogPage:
    """Lines after a cursor, the cursor to continue from, the run's state, and whether the log is complete."""

    lines: list[RunLogLine]
    next_after: int
    run_state: str
    done: bool


def _state_now(run: Run) -> str | None:
    return Run.objects.filter(pk=run.pk).values_list("state", flat=True).first()


def _refuse_waiting_in_a_transaction() -> None:
    if connection.in_atomic_block:
        raise ImproperlyConfigured(
            "Waiting for log lines inside a transaction would hold it open and, on SQLite, never see a new line; "
            "keep ATOMIC_REQUESTS off for the log endpoint."
        )


def log_page(
    *, run: Run, after: int = 0, limit: int = 500, wait: float = 0.0, poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> LogPage:
    """The run's lines after `after`; when none is there and the run is live, wait up to `wait` s for one or its end."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    state = run.state  # read before the lines: a state read first and terminal means no line can follow them
    while True:
        lines = log_line_list(run=run, after=after, limit=limit)
        terminal = RunState(state).is_terminal
        remaining = deadline - time.monotonic()
        if lines or terminal or remaining <= 0:
            break
        _refuse_waiting_in_a_transaction()
        sleep(min(poll_seconds, remaining))
        fresh = _state_now(run)
        if fresh is None:  # the run was deleted while we waited: the next request answers 404
            break
        state = fresh
    return LogPage(
        lines=lines,
        next_after=lines[-1].seq if lines else after,
        run_state=state,
        done=terminal and len(lines) < limit,  # every line after the cursor is in this page and none can follow
    )
