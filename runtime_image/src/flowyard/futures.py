"""TaskFuture: one task run of a flow run — its key, state, attempt and eventual result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flowyard.errors import FlowCancelled
from flowyard.protocols import ActiveFlowRun, TaskDefinition
from flowyard.states import TERMINAL_TASK_STATES, TaskState

_NOTHING: Any = object()
_OK_STATES = (TaskState.SUCCEEDED, TaskState.CACHED)


def describe_error(error: BaseException) -> str:
    """`TypeName: message`, the one-line form used in events and console lines."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class TaskFuture:
    """A task run: `.result()` waits for it and returns its value (or raises its error); `.state` is where it is."""

    __slots__ = ("key", "name", "task", "flow_run", "map_index", "tags", "upstream", "state", "attempt", "error",
                 "_result", "_finished", "_done", "_lock", "_callbacks", "_observed")

    def __init__(
        self, flow_run: ActiveFlowRun[TaskFuture], task: TaskDefinition, key: str, map_index: int | None = None,
        upstream: tuple[str, ...] = (),
    ) -> None:
        self.key = key
        self.name = task.name
        self.task = task
        self.flow_run = flow_run
        self.map_index = map_index
        self.tags = task.tags
        self.upstream = upstream  # the keys of the task runs it was given (engine.upstream_keys)
        self.state = TaskState.PENDING
        self.attempt = 1
        self.error: BaseException | None = None
        self._result: Any = None
        self._finished = False
        self._done: threading.Event | None = None  # created only when someone waits on an unfinished run
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[TaskFuture], None]] | None = []
        self._observed = False

    def __repr__(self) -> str:
        return f"<TaskFuture {self.key} {self.state.value}>"

    def transition(self, state: TaskState, *, error: BaseException | None = None, result: Any = _NOTHING) -> bool:
        """Move to `state` and tell the flow run's sink; a terminal state never changes (False then)."""
        with self._lock:
            if self.state in TERMINAL_TASK_STATES:
                return False
            self.state = state
            if error is not None:
                self.error = error
            if result is not _NOTHING:
                self._result = result
            self.flow_run.sink.task_state(self, state, None if error is None else describe_error(error))
            if state not in TERMINAL_TASK_STATES:
                return True
            callbacks, self._callbacks = self._callbacks or [], None
            self._finished = True
            done = self._done
        if done is not None:
            done.set()
        for callback in callbacks:
            callback(self)
        return True

    def finish_if_stuck(self) -> None:
        """Make sure waiters wake up even if a transition was interrupted half-way (by a signal)."""
        if self.state in TERMINAL_TASK_STATES:
            self._finished = True
            if self._done is not None:
                self._done.set()

    def add_done_callback(self, callback: Callable[["TaskFuture"], None]) -> None:
        """Call `callback(self)` once the task run has ended (right away if it has)."""
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(callback)
                return
        callback(self)

    def done(self) -> bool:
        """True when the task run has ended."""
        return self._finished

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the task run ends or `timeout` seconds pass; True when it ended."""
        if self._finished:
            return True
        with self._lock:
            if self._finished:
                return True
            if self._done is None:
                self._done = threading.Event()
            done = self._done
        return done.wait(timeout)

    def succeeded(self) -> bool:
        """True when the task run ended SUCCEEDED or CACHED."""
        return self.state in _OK_STATES

    def result(self, timeout: float | None = None, *, raise_on_failure: bool = True) -> Any:
        """The task's return value once it ends; raises its error if it failed (or returns it)."""
        self._observed = True
        if not self.wait(timeout):
            raise TimeoutError(f"task {self.key} did not finish within {timeout} seconds")
        state = self.state
        if state in _OK_STATES:
            return self._result
        if state is TaskState.CANCELLED:
            error: BaseException = FlowCancelled(f"task {self.key} was cancelled")
        else:
            error = self.error or RuntimeError(f"task {self.key} ended {state.value}")
        if raise_on_failure:
            raise error
        return error

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The error the task run ended with, or None when it succeeded."""
        self._observed = True
        if not self.wait(timeout):
            raise TimeoutError(f"task {self.key} did not finish within {timeout} seconds")
        if self.state in _OK_STATES:
            return None
        return self.result(raise_on_failure=False)
