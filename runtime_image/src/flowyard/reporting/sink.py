"""ReportingSink: turns run/task/log callbacks into contract events (flowyard_spec.api) for the Reporter."""

from __future__ import annotations

from typing import Any

from flowyard.events import EventSink, now_iso
from flowyard.log_capture import MAX_LINE_CHARS, clip
from flowyard.protocols import TaskRunView
from flowyard.reporting.reporter import Reporter
from flowyard.states import RunState, TaskState

_ERROR_STATES = frozenset({TaskState.RETRYING, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED})


class ReportingSink(EventSink):
    """Queues one contract event per callback; never does I/O on the caller's thread."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self._emit = reporter.emit
        self._announced: set[str] = set()  # task runs whose first event (the one with `upstream`) is queued

    def run_state(self, state: RunState, *, reason: str | None = None, message: str | None = None) -> None:
        """Queue a RunEvent; a terminal one is the last event the reporter will send."""
        event: dict[str, Any] = {"type": "run", "state": state.value, "at": now_iso()}
        if reason:
            event["reason"] = str(reason)
        if message:
            event["message"] = message
        if state.is_terminal:
            self.reporter.emit_final(event)
        else:
            self._emit(event)

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """Queue a TaskEvent; a task run's first one carries its `upstream` task keys."""
        event: dict[str, Any] = {"type": "task", "task_key": task_run.key, "name": task_run.name,
                                 "state": state.value, "at": now_iso(), "attempt": task_run.attempt}
        if task_run.map_index is not None:
            event["map_index"] = task_run.map_index
        if task_run.tags:
            event["tags"] = list(task_run.tags)
        if task_run.key not in self._announced:  # a task run's events come one at a time (under its lock)
            self._announced.add(task_run.key)
            if task_run.upstream:
                event["upstream"] = list(task_run.upstream)
        if error and state in _ERROR_STATES:
            event["error"] = error
        self._emit(event)

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """Queue a LogEvent; the reporter numbers it (seq) in the order it sends."""
        if len(message) > MAX_LINE_CHARS:
            message = clip(message)
        event: dict[str, Any] = {"type": "log", "at": now_iso(), "message": message, "stream": stream}
        if level:
            event["level"] = level
        if task_key:
            event["task_key"] = task_key
        self._emit(event)
