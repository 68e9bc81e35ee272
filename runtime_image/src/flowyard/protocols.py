"""What the SDK's modules use of each other's run objects, as Protocols; this module imports nothing of the SDK.

The concrete classes (FlowRun in flows.py, Task in tasks.py, TaskFuture in futures.py, EventSink in
events.py) sit above the modules that hold or receive them (context.py, futures.py, events.py, engine.py),
so those modules name these Protocols instead and the package's import graph has no cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flowyard_spec.states import TaskState

TaskRunT = TypeVar("TaskRunT")


class TaskRunView(Protocol):
    """A task run as sinks and log capture read it (flowyard.futures.TaskFuture)."""

    @property
    def key(self) -> str:
        """`name-n`: the task's name and the count of its calls in the flow run."""

    @property
    def name(self) -> str:
        """The task's name."""

    @property
    def attempt(self) -> int:
        """The current attempt, from 1."""

    @property
    def map_index(self) -> int | None:
        """The item's index for a run started by `.map()`, else None."""

    @property
    def tags(self) -> list[str]:
        """The task's tags."""

    @property
    def upstream(self) -> tuple[str, ...]:
        """The keys of the task runs it was given (futures or their results): sorted, capped, maybe empty."""


class RunEventSink(Protocol):
    """Where a flow run's task states and log lines go (flowyard.events.EventSink)."""

    def task_state(self, task_run: TaskRunView, state: TaskState, error: str | None = None) -> None:
        """A task run changed state."""

    def log(self, message: str, *, stream: str = "sdk", level: str | None = None, task_key: str | None = None) -> None:
        """One log line, tagged with the task it belongs to when there is one."""


class CancellationSignal(Protocol):
    """Whether a flow run is being cancelled, and a sleep that ends when it is (flowyard.cancellation.Cancellation)."""

    @property
    def requested(self) -> bool:
        """True once cancellation was asked for."""

    @property
    def reason(self) -> str | None:
        """Why the run is being cancelled."""

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to `timeout` seconds or until cancellation is requested; True when it was."""


class WorkerPool(Protocol):
    """Threads that run submitted task runs (flowyard.executor.DaemonPool)."""

    def submit(self, work: Callable[[], None]) -> None:
        """Queue `work` to run on a worker thread."""


class TaskDefinition(Protocol):
    """What running a task run needs of its task (flowyard.tasks.Task)."""

    @property
    def name(self) -> str:
        """The task's name."""

    @property
    def tags(self) -> list[str]:
        """The task's tags."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The decorated function."""

    @property
    def retries(self) -> int:
        """How many times a failed attempt is retried."""

    @property
    def timeout_seconds(self) -> float | None:
        """Seconds an attempt may take, or None for no limit."""

    @property
    def caches(self) -> bool:
        """True when results are cached."""

    @property
    def cache_expiration(self) -> Any:
        """How long a cached result stays valid (timedelta, seconds or None)."""

    def cache_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The cache key for a call with these inputs, or None when they cannot be keyed."""

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` before the next one."""


class ActiveFlowRun(Protocol[TaskRunT]):
    """What task runs, the engine, log capture and task calls use of a flow run (flowyard.flows.FlowRun)."""

    @property
    def sink(self) -> RunEventSink:
        """Where the run's events go."""

    @property
    def capture_output(self) -> bool:
        """True when prints inside the run become log lines."""

    @property
    def cancellation(self) -> CancellationSignal:
        """The run's cancellation flag."""

    @property
    def pool(self) -> WorkerPool:
        """The threads for submitted task runs."""

    @property
    def producers(self) -> dict[int, str]:
        """The key of the task run that returned each result still held by the run, by the result's id()."""

    def new_task_run(
        self, task: TaskDefinition, map_index: int | None = None, upstream: tuple[str, ...] = ()
    ) -> TaskRunT:
        """A new task run of `task` in this flow run, given the task runs in `upstream`."""

    def register_thread(self, task_run: TaskRunT, ident: int | None) -> None:
        """Remember (or forget, with None) the thread running `task_run`."""
