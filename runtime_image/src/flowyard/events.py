"""Where a flow run's state changes and log lines go: the console, memory, the control plane, or nowhere."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from flowyard.protocols import TaskRunView
from flowyard.states import RunState, TaskState


def now_iso() -> str:
    """The current time in ISO 8601 with timezone (UTC)."""
    return datetime.now(timezone.utc).isoformat()


class EventSink:
    """Receives run states, task states and log lines; this base ignores them all."""

    def run_state(self, state: RunState, *, reason: str | None = None, message: str | None = None) -> None:
        """The run changed state."""

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """A task run changed state (its attributes already hold the new state)."""

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """One log line, tagged with the task it belongs to when there is one."""

    def close(self) -> None:
        """Nothing more will be sent."""


NullSink = EventSink


class RecordingSink(EventSink):
    """Keeps everything in memory, for tests and for callers that inspect a run afterwards."""

    def __init__(self) -> None:
        self.run_states: list[tuple[RunState, str | None, str | None]] = []
        self.task_events: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []

    def run_state(self, state: RunState, *, reason: str | None = None, message: str | None = None) -> None:
        """Record the run state."""
        self.run_states.append((state, reason, message))

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """Record the task state with the attempt and map index."""
        self.task_events.append(
            {"task_key": task_run.key, "name": task_run.name, "state": state, "attempt": task_run.attempt,
             "map_index": task_run.map_index, "upstream": list(task_run.upstream), "error": error,
             "time": time.monotonic()}
        )

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """Record the log line."""
        self.logs.append({"message": message, "stream": stream, "level": level, "task_key": task_key})

    def states_of(self, task_key: str) -> list[TaskState]:
        """Every state the task run went through, in order."""
        return [event["state"] for event in self.task_events if event["task_key"] == task_key]


class ConsoleSink(EventSink):
    """Prints one readable line per state change and per log line, flushing each."""

    def __init__(self, stream: TextIO | None = None) -> None:
        stream = sys.stdout if stream is None else stream
        self._stream: TextIO = getattr(stream, "original", stream)  # never write through our own capture
        self._lock = threading.Lock()
        self._announced: set[str] = set()

    def _write(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            try:
                self._stream.write(f"{stamp} {line}\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken console must never fail the flow

    def run_state(self, state: RunState, *, reason: str | None = None, message: str | None = None) -> None:
        """Print `run STATE (reason): message`."""
        self._write(f"run {state.value}" + (f" ({reason})" if reason else "") + (f": {message}" if message else ""))

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """Print `task KEY STATE [attempt n] [after KEY, …]: error` (the upstream task runs on its first line)."""
        attempt = f" attempt {task_run.attempt}" if state in (TaskState.RUNNING, TaskState.RETRYING) else ""
        after = ""
        if task_run.key not in self._announced:
            self._announced.add(task_run.key)
            upstream = task_run.upstream
            if upstream:
                more = f" and {len(upstream) - 5} more" if len(upstream) > 5 else ""
                after = f" after {', '.join(upstream[:5])}{more}"
        self._write(f"task {task_run.key} {state.value}{attempt}{after}" + (f": {error}" if error else ""))

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """Print `[task-key] LEVEL message`."""
        where = f"[{task_key}] " if task_key else ""
        label = f"{level} " if level and stream in ("sdk", "system") else ""
        self._write(f"{where}{label}{message}")


class TeeSink(EventSink):
    """Sends everything to several sinks in turn."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = [sink for sink in sinks if sink is not None]

    def run_state(self, state: RunState, *, reason: str | None = None, message: str | None = None) -> None:
        """Pass the run state on."""
        for sink in self.sinks:
            sink.run_state(state, reason=reason, message=message)

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """Pass the task state on."""
        for sink in self.sinks:
            sink.task_state(task_run, state, error)

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """Pass the log line on."""
        for sink in self.sinks:
            sink.log(message, stream=stream, level=level, task_key=task_key)

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            sink.close()
