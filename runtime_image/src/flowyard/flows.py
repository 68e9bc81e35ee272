"""`@flow`, the Flow class and FlowRun: one execution of a flow with its task runs, sink and cancellation."""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from flowyard.cancellation import Cancellation
from flowyard.context import flow_run_var
from flowyard.engine import interrupt_thread
from flowyard.errors import FlowCancelled, FlowFailed, ParameterError
from flowyard.events import ConsoleSink, EventSink
from flowyard.executor import DaemonPool
from flowyard.futures import TaskFuture, describe_error
from flowyard.log_capture import flush_partial_lines, start_capture, stop_capture
from flowyard.parameters import validate_parameters
from flowyard.states import RunReason, RunState, TaskState

P = ParamSpec("P")
R = TypeVar("R")
_FAILED_TASK_STATES = (TaskState.FAILED, TaskState.UPSTREAM_FAILED)


def default_max_workers() -> int:
    """Threads for submitted tasks: FLOWYARD_MAX_WORKERS, else min(32, CPUs + 4)."""
    configured = os.environ.get("FLOWYARD_MAX_WORKERS", "").strip()
    return int(configured) if configured.isdigit() and int(configured) > 0 else min(32, (os.cpu_count() or 1) + 4)


class FlowRun:
    """One execution of a flow: its parameters, task runs, final state, result or error."""

    def __init__(self, flow: "Flow[..., Any]", sink: EventSink, cancellation: Cancellation | None = None) -> None:
        self.flow = flow
        self.sink = sink
        self.cancellation = cancellation or Cancellation()
        self.capture_output = flow.log_prints
        self.parameters: dict[str, Any] = {}
        self.state = RunState.STARTING
        self.reason: RunReason | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.task_runs: list[TaskFuture] = []
        self.producers: dict[int, str] = {}  # id(result) -> task key; the results stay alive on their futures
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self._pool: DaemonPool | None = None
        self._threads: dict[TaskFuture, int] = {}

    def __repr__(self) -> str:
        return f"<FlowRun {self.flow.name} {self.state.value}>"

    @property
    def pool(self) -> DaemonPool:
        """The thread pool for submitted tasks (started on first use)."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = DaemonPool(self.flow.max_workers or default_max_workers())
        return self._pool

    def new_task_run(self, task: Any, map_index: int | None = None, upstream: tuple[str, ...] = ()) -> TaskFuture:
        """A new task run keyed `{name}-{n}`, n counting this task name's calls in this run."""
        counter = self._counters.get(task.name)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(task.name, itertools.count())
        future = TaskFuture(self, task, f"{task.name}-{next(counter)}", map_index, upstream)
        self.task_runs.append(future)
        return future

    def task_run(self, key: str) -> TaskFuture:
        """The task run with this key (KeyError when there is none)."""
        for future in self.task_runs:
            if future.key == key:
                return future
        raise KeyError(key)

    def register_thread(self, future: TaskFuture, ident: int | None) -> None:
        """Remember (or forget) the thread running `future`, so cancellation can interrupt it."""
        if ident is None:
            self._threads.pop(future, None)
        else:
            self._threads[future] = ident

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel from any thread: no new task starts, running ones become CANCELLED and are interrupted."""
        self.cancellation.request(reason)
        self._sweep(reason)

    def _sweep(self, reason: str) -> None:
        for future in list(self.task_runs):
            if not future.state.is_terminal:
                future.transition(TaskState.CANCELLED, error=FlowCancelled(reason))
                interrupt_thread(self._threads.get(future), FlowCancelled)
            future.finish_if_stuck()

    def execute(self, given: Mapping[str, Any], *, report_run_state: bool = True) -> "FlowRun":
        """Validate parameters, run the flow function, wait for its tasks and settle the final state."""
        token = flow_run_var.set(self)
        start_capture()
        try:
            if report_run_state:
                self.sink.run_state(RunState.RUNNING)
            self._execute(given)
        finally:
            flush_partial_lines()
            stop_capture()
            flow_run_var.reset(token)
            if self._pool is not None:
                self._pool.shutdown()
            if report_run_state:
                self.sink.run_state(self.state, reason=self.reason, message=self.message)
        return self

    def _execute(self, given: Mapping[str, Any]) -> None:
        self.state = RunState.RUNNING
        try:
            self.parameters = validate_parameters(self.flow.fn, given) if self.flow.validate_parameters else dict(given)
            self.result = self.flow.fn(**self.parameters)
            self._wait_for_tasks()
        except FlowCancelled as cancelled:
            self.error = cancelled
            self.cancellation.mark(str(cancelled) or "cancelled")
        except ParameterError as error:
            self._fail(error, log_traceback=False)
        except Exception as error:  # noqa: BLE001 - the flow's own failure
            self._fail(error)
        except SystemExit as exit_request:  # sys.exit() in the flow: 0 or None ends it normally, anything else fails it
            if exit_request.code not in (0, None):
                self._fail(FlowFailed(f"the flow called sys.exit({exit_request.code!r})"), log_traceback=False)
            else:
                self._wait_for_tasks()
        except BaseException as error:  # KeyboardInterrupt: cancel the tasks, then let it go on
            self.cancellation.mark(describe_error(error))
            self._settle()
            raise
        self._settle()

    def _settle(self) -> None:
        self.cancellation.shielded = True
        if self.cancellation.requested:
            self.cancellation.request(self.cancellation.reason or "cancelled")
            self._sweep(self.cancellation.reason or "cancelled")
            self.state, self.reason = RunState.CANCELLED, RunReason.CANCELLED
            if not isinstance(self.error, FlowCancelled):
                self.error = FlowCancelled(self.cancellation.reason or "cancelled")
            self.sink.log(f"flow {self.flow.name} cancelled: {self.cancellation.reason}", level="WARNING", stream="sdk")
            return
        if self.state is RunState.FAILED:
            if any(not f.state.is_terminal for f in self.task_runs):  # the run is over: so are its unfinished tasks
                self.cancellation.request("the flow failed")
                self._sweep("the flow failed")
            return
        unread = [f for f in self.task_runs if not f._observed and f.state in _FAILED_TASK_STATES]
        if unread:
            more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
            first = unread[0]
            self._fail(FlowFailed(f"task {first.key} ended {first.state.value}: "
                                  f"{describe_error(first.error) if first.error else ''}{more}"), log_traceback=False)
            return
        self.state = RunState.SUCCEEDED

    def _fail(self, error: BaseException, *, log_traceback: bool = True) -> None:
        self.state, self.reason, self.error = RunState.FAILED, RunReason.USER_ERROR, error
        if any(f.error is error for f in self.task_runs):
            self.sink.log(f"flow {self.flow.name} failed: {describe_error(error)}", level="ERROR", stream="sdk")
        elif log_traceback:
            tb = error.__traceback__
            while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("flowyard."):
                tb = tb.tb_next
            text = "".join(traceback.format_exception(type(error), error, tb)).rstrip()
            self.sink.log(f"flow {self.flow.name} failed: {text}", level="ERROR", stream="sdk")
        else:
            self.sink.log(f"flow {self.flow.name} failed: {describe_error(error)}", level="ERROR", stream="sdk")

    def _wait_for_tasks(self) -> None:
        index = 0
        while index < len(self.task_runs):
            self.task_runs[index].wait()
            index += 1

    @property
    def message(self) -> str | None:
        """A one-line explanation of a run that did not succeed."""
        return None if self.error is None or self.state is RunState.SUCCEEDED else describe_error(self.error)

    def unwrap(self) -> Any:
        """The flow's return value, or raise what made the run fail or cancel."""
        if self.state is RunState.SUCCEEDED:
            return self.result
        raise self.error or FlowFailed(f"flow {self.flow.name} ended {self.state.value}")


class Flow(Generic[P, R]):
    """A function run as a flow: validated parameters, its tasks tracked, logs and prints captured."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        max_workers: int | None = None,
        validate_parameters: bool = True,
        log_prints: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError("@flow decorates a function")
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{getattr(fn, '__name__', fn)} is async: flows are plain functions (run async code "
                            "inside with asyncio.run)")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "flow")
        self.description = description or inspect.getdoc(fn)
        self.max_workers = max_workers
        self.validate_parameters = validate_parameters
        self.log_prints = log_prints
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn
        self.__module__ = getattr(fn, "__module__", __name__)

    def __repr__(self) -> str:
        return f"<Flow {self.name}>"

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional and keyword arguments as a dict of parameters by name."""
        if not args:
            return dict(kwargs)
        try:
            return dict(inspect.signature(self.fn).bind_partial(*args, **kwargs).arguments)
        except TypeError as error:
            raise ParameterError("*", str(error)) from None

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        sink: EventSink | None = None,
        cancellation: Cancellation | None = None,
        report_run_state: bool = True,
    ) -> FlowRun:
        """Run the flow and return the finished FlowRun (it does not raise when the flow fails)."""
        flow_run = FlowRun(self, sink if sink is not None else ConsoleSink(), cancellation)
        return flow_run.execute(parameters or {}, report_run_state=report_run_state)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the flow and return its value (raising its error); inside another flow, run as part of it."""
        given = self.bind(args, kwargs)
        if flow_run_var.get() is not None:
            parameters = validate_parameters(self.fn, given) if self.validate_parameters else given
            return self.fn(**parameters)
        return self.run(given).unwrap()


@overload
def flow(fn: Callable[P, R]) -> Flow[P, R]: ...
@overload
def flow(
    fn: None = None, *, name: str | None = None, description: str | None = None, max_workers: int | None = None,
    validate_parameters: bool = True, log_prints: bool = True,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a function a Flowyard flow: `@flow` or `@flow(name="etl")`."""
    if fn is None:
        return lambda function: Flow(function, **options)
    return Flow(fn, **options)
