"""Running one task run: inputs from upstream futures, cache, attempts with retries and timeouts, states."""

from __future__ import annotations

import contextvars
import enum
import threading
import traceback
import types
from collections.abc import Iterable, Mapping
from typing import Any

from flowyard import cache
from flowyard.context import task_run_var
from flowyard.errors import FlowCancelled, TaskExited, TaskTimeout, UpstreamFailed
from flowyard.futures import TaskFuture, describe_error
from flowyard.log_capture import flush_partial_lines
from flowyard.states import TaskState
from flowyard_spec.api import MAX_UPSTREAM_KEYS

try:  # stopping a thread that runs past its timeout is best effort: CPython only
    import ctypes

    _set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
except (ImportError, AttributeError):  # pragma: no cover
    ctypes = None  # type: ignore[assignment]
    _set_async_exc = None

_CONTAINERS = (list, tuple, set, frozenset, dict)
# Results that may be the very same object elsewhere (small ints, interned strings, constants, singletons) do not
# tell which task run a value came from; everything else a task returns is remembered by identity.
_SHARED_KINDS = (type(None), bool, int, float, complex, str, bytes, tuple, frozenset, range, type, enum.Enum,
                 types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
_RESULT_DEPTH = 2  # a result is recognised as an argument, or nested one or two levels in lists, tuples, sets, dicts
_NO_PRODUCERS: dict[int, str] = {}


class TaskAbandoned(BaseException):
    """Raised inside a task's thread once its run gave up on it (timeout or cancellation)."""


class _UpstreamNotOk(Exception):
    def __init__(self, future: TaskFuture) -> None:
        self.future = future


def interrupt_thread(ident: int | None, error: type[BaseException] = TaskAbandoned) -> None:
    """Raise `error` in the thread `ident` at its next Python instruction (best effort)."""
    if ident is None or _set_async_exc is None:
        return
    _set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(error))


def find_futures(value: Any, found: list[TaskFuture]) -> list[TaskFuture]:
    """Collect the TaskFutures inside `value` (looking into lists, tuples, sets and dicts)."""
    kind = type(value)
    if kind is TaskFuture:
        found.append(value)
    elif kind in _CONTAINERS or isinstance(value, _CONTAINERS):
        for item in (value.values() if isinstance(value, dict) else value):
            if type(item) is TaskFuture or isinstance(item, _CONTAINERS):
                find_futures(item, found)
    return found


def collect_upstream(producers: Mapping[int, str], values: Iterable[Any], keys: set[str]) -> set[str]:
    """Add to `keys` the task runs behind `values` (a call's arguments): the futures among them (at any depth,
    as the engine waits for them all) and the results of earlier task runs (up to two levels deep)."""
    for value in values:
        _collect(value, producers, keys, 0)
    return keys


def _collect(value: Any, producers: Mapping[int, str], keys: set[str], depth: int) -> None:
    if type(value) is TaskFuture:
        keys.add(value.key)
        return
    if producers:
        key = producers.get(id(value))  # ids of results held by the run are unique among live objects
        if key is not None:
            keys.add(key)
            return
    if isinstance(value, _CONTAINERS):
        deeper = depth + 1
        look = bool(producers) and deeper <= _RESULT_DEPTH
        for item in (value.values() if isinstance(value, dict) else value):
            if look or type(item) is TaskFuture or isinstance(item, _CONTAINERS):
                _collect(item, producers if look else _NO_PRODUCERS, keys, deeper)


def sorted_upstream(keys: Iterable[str]) -> tuple[str, ...]:
    """Task keys sorted, without duplicates, at most MAX_UPSTREAM_KEYS (the first ones, sorted)."""
    return tuple(sorted(set(keys))[:MAX_UPSTREAM_KEYS])


def upstream_keys(producers: Mapping[int, str], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """The upstream task keys of a call with these arguments (see collect_upstream), sorted and capped."""
    if not args and not kwargs:
        return ()
    return sorted_upstream(collect_upstream(producers, (*args, *kwargs.values()), set()))


def _remember_result(future: TaskFuture, value: Any) -> list[int]:
    """Note `future` as the producer of `value` (and of a returned tuple's items); the ids noted."""
    noted = []
    for item in (value, *value) if isinstance(value, tuple) and len(value) <= 32 else (value,):
        if not isinstance(item, _SHARED_KINDS) and type(item) is not TaskFuture:
            future.flow_run.producers[id(item)] = future.key
            noted.append(id(item))
    return noted


def _finish_ok(future: TaskFuture, state: TaskState, value: Any) -> None:
    """End the task run SUCCEEDED or CACHED with `value`, known as its result before anyone can read it."""
    noted = _remember_result(future, value)
    if not future.transition(state, result=value):  # it had already ended (cancelled): the value is not its result
        producers = future.flow_run.producers
        for ident in noted:
            if producers.get(ident) == future.key:
                producers.pop(ident, None)


def _resolve(value: Any) -> Any:
    kind = type(value)
    if kind is TaskFuture:
        value.wait()
        value._observed = True
        if not value.succeeded():
            raise _UpstreamNotOk(value)
        return value._result
    if isinstance(value, dict):
        return {key: _resolve(item) for key, item in value.items()}
    if isinstance(value, (list, set, frozenset)):
        return kind(_resolve(item) for item in value) if kind in (list, set, frozenset) else value
    if isinstance(value, tuple):
        items = [_resolve(item) for item in value]
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    return value


def resolve_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Replace futures in the arguments by their results, waiting for them; raise if one did not succeed."""
    if not find_futures(args, []) and not find_futures(kwargs, []):
        return args, kwargs
    return tuple(_resolve(arg) for arg in args), {key: _resolve(value) for key, value in kwargs.items()}


def _user_traceback(error: BaseException) -> str:
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("flowyard."):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def log_failure(future: TaskFuture, error: BaseException) -> None:
    """Send the task's traceback to the run's log, tagged with the task."""
    future.flow_run.sink.log(f"task {future.key} failed: {_user_traceback(error)}", level="ERROR",
                             stream="sdk", task_key=future.key)


def _call_with_timeout(future: TaskFuture, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> Any:
    box: dict[str, Any] = {}
    done = threading.Event()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = context.run(future.task.fn, *args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = error
        finally:
            done.set()
            context.run(flush_partial_lines)

    thread = threading.Thread(target=target, name=f"flowyard-{future.key}", daemon=True)
    thread.start()
    try:
        finished = done.wait(timeout)
    except FlowCancelled:
        interrupt_thread(thread.ident, TaskAbandoned)
        raise
    if not finished:
        interrupt_thread(thread.ident, TaskAbandoned)
        raise TaskTimeout(f"task {future.key} timed out after {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def execute(future: TaskFuture, args: tuple[Any, ...], kwargs: dict[str, Any], *, in_flow_thread: bool) -> None:
    """Run the task run to a terminal state; FlowCancelled is re-raised only in the flow's own thread."""
    try:
        _execute(future, args, kwargs)
    except FlowCancelled as cancelled:
        future.transition(TaskState.CANCELLED, error=cancelled)
        if in_flow_thread:
            raise
    except BaseException as error:  # SystemExit or KeyboardInterrupt inside a task: it failed, and they go on
        if future.transition(TaskState.FAILED, error=error):
            log_failure(future, error)
        if in_flow_thread:
            raise
    finally:
        future.finish_if_stuck()


def _execute(future: TaskFuture, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    cancellation = future.flow_run.cancellation
    task = future.task
    if cancellation.requested:
        raise FlowCancelled(cancellation.reason or "the flow run is being cancelled")
    if args or kwargs:
        try:
            args, kwargs = resolve_inputs(args, kwargs)
        except _UpstreamNotOk as upstream:
            failed = upstream.future
            if failed.state is TaskState.CANCELLED:
                raise FlowCancelled(f"upstream task {failed.key} was cancelled") from None
            future.transition(TaskState.UPSTREAM_FAILED,
                              error=UpstreamFailed(f"upstream task {failed.key} ended {failed.state.value}"))
            return
    cache_key = task.cache_key(args, kwargs) if task.caches else None
    if cache_key is not None:
        value = cache.read(cache_key, task.name)
        if value is not cache.MISS:
            _finish_ok(future, TaskState.CACHED, value)
            return
    timeout = task.timeout_seconds
    attempt = 0
    while True:
        attempt += 1
        future.attempt = attempt
        future.transition(TaskState.RUNNING)
        token = task_run_var.set(future)
        try:
            value = task.fn(*args, **kwargs) if timeout is None else _call_with_timeout(future, args, kwargs, timeout)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the task's own failure (sys.exit too): retry or fail
            if isinstance(error, SystemExit):
                error = TaskExited(f"the task called sys.exit({error.code!r})")
            if attempt > task.retries or cancellation.requested:
                if future.transition(TaskState.FAILED, error=error):
                    log_failure(future, error)
                return
            delay = task.retry_delay(attempt)
            future.transition(TaskState.RETRYING, error=error)
            future.flow_run.sink.log(
                f"attempt {attempt} of {task.retries + 1} failed ({describe_error(error)}); retrying in {delay:g} s",
                level="WARNING", stream="sdk", task_key=future.key)
            if cancellation.wait(delay):
                raise FlowCancelled(cancellation.reason or "the flow run is being cancelled") from None
            continue
        finally:
            flush_partial_lines()
            task_run_var.reset(token)
        if cache_key is not None and not cache.write(cache_key, value, task.cache_expiration, task.name):
            future.flow_run.sink.log(f"task {future.key}: the result could not be cached (not picklable?)",
                                     level="WARNING", stream="sdk", task_key=future.key)
        _finish_ok(future, TaskState.SUCCEEDED, value)
        return


def run_in_worker(future: TaskFuture, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Body of a submitted task run on a pool thread (already inside the flow run's context)."""
    future.flow_run.register_thread(future, threading.get_ident())
    try:
        execute(future, args, kwargs, in_flow_thread=False)
    except BaseException:  # noqa: BLE001 - already recorded on the future
        pass
    finally:
        future.flow_run.register_thread(future, None)


def submit(future: TaskFuture, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskFuture:
    """Mark the run PENDING and start it on the pool once every upstream future among its inputs is done."""
    cancellation = future.flow_run.cancellation
    if cancellation.requested:  # checked after the run was registered, so a concurrent cancel sweep cannot miss it
        future.transition(TaskState.CANCELLED, error=FlowCancelled(cancellation.reason or "cancelled"))
        return future
    future.transition(TaskState.PENDING)
    context = contextvars.copy_context()
    pool = future.flow_run.pool

    def start(_: TaskFuture | None = None) -> None:
        pool.submit(lambda: context.run(run_in_worker, future, args, kwargs))

    upstream = [f for f in find_futures(kwargs, find_futures(args, [])) if not f.done()] if args or kwargs else []
    if not upstream:
        start()
        return future
    remaining = [len(upstream)]
    lock = threading.Lock()

    def one_done(_: TaskFuture) -> None:
        with lock:
            remaining[0] -= 1
            ready = remaining[0] == 0
        if ready:
            start()

    for dependency in upstream:
        dependency.add_done_callback(one_done)
    return future
