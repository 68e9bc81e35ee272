"""A run's timeline: a Gantt chart of its task runs (mapped ones and retried ones too), x = time from the start.

Only the geometry is computed here; the template draws it as server-rendered SVG, one bar per attempt of a task
run with its state in a <title> and in text beside the bar. A retried task run has a row per attempt, one under
the other: its earlier attempts (`TaskRun.attempts`) first, then the latest.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controlplane.portal.durations import duration_text

LABEL_WIDTH = 260
CHART_WIDTH = 640
RIGHT_MARGIN = 180
ROW_HEIGHT = 22
BAR_HEIGHT = 14
AXIS_HEIGHT = 24
MAX_BARS = 500
TICKS = 4


@dataclass(frozen=True)
class TimelineBar:
    """One task run's bar: where it starts and how long it is, and what it says."""

    task_key: str
    state: str
    attempt: int
    map_index: int | None
    x: float
    y: float
    width: float
    duration: str
    running: bool
    retried: bool = False  # the task run has more than one attempt (this one or another is past the first)
    earlier: bool = False  # an earlier attempt, not the task run's latest

    @property
    def shows_attempt(self) -> bool:
        """Whether the row names its attempt: every attempt of a retried task run does."""
        return self.retried or self.attempt > 1

    @property
    def css(self) -> str:
        """The state's colour class (the colour only repeats the state written beside the bar)."""
        return self.state.lower().replace("_", "-")

    @property
    def text_y(self) -> float:
        """The baseline of the bar's row text."""
        return self.y + BAR_HEIGHT - 3

    @property
    def label_x(self) -> float:
        """Where the state and duration text starts, right after the bar."""
        return self.x + self.width + 4

    @property
    def title(self) -> str:
        """The bar's tooltip: key, attempt, map index, state, duration."""
        parts = [self.task_key]
        if self.shows_attempt:
            parts.append(f"attempt {self.attempt}")
        if self.map_index is not None:
            parts.append(f"map index {self.map_index}")
        parts.append(self.state)
        parts.append(f"{self.duration} so far" if self.running else self.duration)
        return " · ".join(parts)


@dataclass(frozen=True)
class TimelineTick:
    """A mark on the time axis."""

    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """The chart: its bars and axis, its size, and the task runs that have not started (no bar)."""

    bars: list[TimelineBar]
    ticks: list[TimelineTick]
    width: int
    height: int
    not_started: list[str]
    left_out: int = 0

    @property
    def label_x(self) -> int:
        """Where the task keys end (right-aligned)."""
        return LABEL_WIDTH - 8


@dataclass(frozen=True)
class _Attempt:
    """One attempt of a task run to draw: the latest one is the task run itself."""

    task: Any
    attempt: int
    state: str
    started_at: datetime.datetime
    ended_at: datetime.datetime | None
    earlier: bool


def _when(value: Any) -> datetime.datetime | None:
    """A stored ISO 8601 time (aware), or None when there is none or it cannot be read."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _attempts(task: Any) -> list[_Attempt]:
    """The task run's attempts that started, earliest first; an earlier one without an end ends where the next starts."""
    drawn = []
    stored = getattr(task, "attempts", None)
    for entry in stored if isinstance(stored, list) else []:
        started = _when(entry.get("started_at")) if isinstance(entry, dict) else None
        if started is not None and isinstance(entry.get("attempt"), int):
            drawn.append(_Attempt(task, entry["attempt"], str(entry.get("state", "")), started,
                                  _when(entry.get("ended_at")), earlier=True))
    drawn.sort(key=lambda attempt: attempt.attempt)
    if task.started_at:
        drawn.append(_Attempt(task, task.attempt or 1, str(task.state), task.started_at, task.ended_at, earlier=False))
    for index, attempt in enumerate(drawn[:-1]):
        if attempt.ended_at is None:
            drawn[index] = _Attempt(attempt.task, attempt.attempt, attempt.state, attempt.started_at,
                                    max(drawn[index + 1].started_at, attempt.started_at), earlier=True)
    return drawn


def _span(run: Any, started: Sequence[_Attempt], now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    origin = min([one.started_at for one in started] + ([run.started_at] if run.started_at else []))
    ends = [one.ended_at or now for one in started] + [run.ended_at or (now if not run.is_terminal else origin)]
    return origin, max(ends)


def timeline(run: Any, task_runs: Sequence[Any], now: datetime.datetime) -> Timeline:
    """The Gantt chart of `task_runs` of `run`, ordered by start; a task still running extends to `now`.

    A row per attempt: a retried task run's attempts are on consecutive rows, earliest first.
    """
    drawn = [(task, _attempts(task)) for task in task_runs]
    groups = sorted(((task, attempts) for task, attempts in drawn if attempts),
                    key=lambda group: (group[1][0].started_at, group[0].task_key))
    not_started = [task.task_key for task, attempts in drawn if not attempts]
    started = [attempt for _, attempts in groups for attempt in attempts]
    retried = {id(task) for task, attempts in groups if len(attempts) > 1}
    left_out = max(0, len(started) - MAX_BARS)
    started = started[:MAX_BARS]
    if not started:
        return Timeline(bars=[], ticks=[], width=LABEL_WIDTH + CHART_WIDTH + RIGHT_MARGIN, height=0,
                        not_started=not_started)
    origin, end = _span(run, started, now)
    total = max((end - origin).total_seconds(), 0.001)
    scale = CHART_WIDTH / total
    bars = []
    for row, one in enumerate(started):
        task = one.task
        finish = one.ended_at or (run.ended_at if run.is_terminal and run.ended_at else now)
        seconds = max((finish - one.started_at).total_seconds(), 0.0)
        bars.append(TimelineBar(
            task_key=task.task_key, state=one.state, attempt=one.attempt, map_index=task.map_index,
            x=round(LABEL_WIDTH + (one.started_at - origin).total_seconds() * scale, 2),
            y=AXIS_HEIGHT + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=round(max(seconds * scale, 2.0), 2), duration=duration_text(seconds), running=one.ended_at is None,
            retried=id(task) in retried, earlier=one.earlier,
        ))
    ticks = [TimelineTick(x=round(LABEL_WIDTH + CHART_WIDTH * step / TICKS, 2),
                          label="+" + duration_text(total * step / TICKS) if step else "0")
             for step in range(TICKS + 1)]
    return Timeline(bars=bars, ticks=ticks, width=LABEL_WIDTH + CHART_WIDTH + RIGHT_MARGIN,
                    height=AXIS_HEIGHT + len(bars) * ROW_HEIGHT + 4, not_started=not_started, left_out=left_out)
