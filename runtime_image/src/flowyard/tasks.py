"""`@task` and the Task class: call it (runs now), `.submit()` it (a future) or `.map()` it (many futures)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from flowyard import cache, engine
from flowyard.context import flow_run_var
from flowyard.futures import TaskFuture

P = ParamSpec("P")
R = TypeVar("R")
RetryDelay = float | Sequence[float] | Callable[[int], float]


def exponential_backoff(base: float = 1.0, factor: float = 2.0, max_delay: float | None = None) -> Callable[[int], float]:
    """Retry delays growing as base, base×factor, base×factor², … (capped at `max_delay`)."""
    if base < 0 or factor < 1:
        raise ValueError("exponential_backoff needs base >= 0 and factor >= 1")

    def delay(attempt: int) -> float:
        value = base * factor ** max(0, attempt - 1)
        return value if max_delay is None else min(value, max_delay)

    delay.__doc__ = f"exponential backoff: {base} × {factor}^(attempt-1)"
    return delay


class unmapped:  # noqa: N801 - named like Prefect's helper
    """Wrap an argument of `.map()` so it is passed whole to every call instead of iterated."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _mappable(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray, Mapping))


class Task(Generic[P, R]):
    """A function run as a task inside a flow: retries, timeout, cache, tags and a key per call."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay = 0,
        timeout_seconds: float | None = None,
        cache_expiration: timedelta | float | None = None,
        cache_key_fn: Callable[[dict[str, Any]], str | None] | None = None,
        cache: bool | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        if not callable(fn):
            raise TypeError("@task decorates a function")
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{getattr(fn, '__name__', fn)} is async: tasks are plain functions (run async code "
                            "inside with asyncio.run)")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, not {timeout_seconds!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "task")
        self.description = description or inspect.getdoc(fn)
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.cache_expiration = cache_expiration
        self.cache_key_fn = cache_key_fn
        self.caches = bool(cache) if cache is not None else (cache_expiration is not None or cache_key_fn is not None)
        self.tags: list[str] = list(tags)
        self._options = {"name": name, "description": description, "retries": retries,
                         "retry_delay_seconds": retry_delay_seconds, "timeout_seconds": timeout_seconds,
                         "cache_expiration": cache_expiration, "cache_key_fn": cache_key_fn, "cache": cache,
                         "tags": tuple(tags)}
        self._source: str | None = None
        self._signature: inspect.Signature | None = None

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self if instance is None else functools.partial(self, instance)

    def with_options(self, **changes: Any) -> "Task[P, R]":
        """A copy of this task with some options changed (same function)."""
        return Task(self.fn, **{**self._options, **changes})

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
        delay = self.retry_delay_seconds
        if callable(delay):
            return max(0.0, float(delay(attempt)))
        if isinstance(delay, (list, tuple)):
            return max(0.0, float(delay[min(attempt, len(delay)) - 1])) if delay else 0.0
        return max(0.0, float(delay))

    def cache_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The cache key for a call with these (resolved) inputs, or None when they cannot be keyed."""
        if self._signature is None:
            self._signature = inspect.signature(self.fn)
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        inputs = dict(bound.arguments)
        if self.cache_key_fn is not None:
            custom = self.cache_key_fn(inputs)
            return None if custom is None else cache.make_key(self.name, "custom", str(custom))
        fingerprint = cache.inputs_fingerprint(inputs)
        if fingerprint is None:
            return None
        if self._source is None:
            self._source = cache.source_fingerprint(self.fn)
        return cache.make_key(f"{getattr(self.fn, '__module__', '')}.{self.name}", self._source, fingerprint)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run now and return the value (raising the task's error); outside a flow, just call the function."""
        flow_run = flow_run_var.get()
        if flow_run is None:
            return self.fn(*args, **kwargs)
        future = flow_run.new_task_run(self, upstream=engine.upstream_keys(flow_run.producers, args, kwargs))
        future._observed = True
        engine.execute(future, args, kwargs, in_flow_thread=True)
        return future.result()

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture:
        """Start the task on the flow's thread pool and return its future at once."""
        flow_run = flow_run_var.get()
        if flow_run is None:
            raise RuntimeError(f"{self.name}.submit() must be called inside a flow; call {self.name}(...) to just run it")
        upstream = engine.upstream_keys(flow_run.producers, args, kwargs)
        return engine.submit(flow_run.new_task_run(self, upstream=upstream), args, kwargs)

    def map(self, *args: Any, **kwargs: Any) -> list[TaskFuture]:
        """One submitted run per item of the iterable arguments (others, and `unmapped(x)`, go to every run).

        Each run's upstream is what its items came from: the future (or earlier task run's result) that was
        iterated, the futures among its own items, and those among the arguments every run gets.
        """
        flow_run = flow_run_var.get()
        if flow_run is None:
            raise RuntimeError(f"{self.name}.map() must be called inside a flow")
        producers = flow_run.producers
        shared: set[str] = set()
        positional = [self._map_argument(value, producers, shared) for value in args]
        named = {key: self._map_argument(value, producers, shared) for key, value in kwargs.items()}
        lengths = {len(items) for mapped, items in [*positional, *named.values()] if mapped}
        if not lengths:
            raise ValueError(f"{self.name}.map() needs at least one iterable argument")
        if len(lengths) > 1:
            raise ValueError(f"{self.name}.map() got iterables of different lengths: {sorted(lengths)}")
        count = lengths.pop()
        engine.collect_upstream(producers, [items for mapped, items in [*positional, *named.values()] if not mapped],
                                shared)
        futures = []
        for index in range(count):
            call_args = tuple(items[index] if mapped else items for mapped, items in positional)
            call_kwargs = {key: items[index] if mapped else items for key, (mapped, items) in named.items()}
            own = engine.collect_upstream(
                producers, [items[index] for mapped, items in [*positional, *named.values()] if mapped], set(shared))
            upstream = engine.sorted_upstream(own)
            futures.append(engine.submit(flow_run.new_task_run(self, index, upstream), call_args, call_kwargs))
        return futures

    @staticmethod
    def _map_argument(value: Any, producers: Mapping[int, str], sources: set[str]) -> tuple[bool, Any]:
        """(True, items) for an argument to iterate, else (False, value); the task run it came from goes to `sources`."""
        if isinstance(value, unmapped):
            return False, value.value
        if isinstance(value, TaskFuture):
            key = value.key
            value = value.result()
        else:
            key = producers.get(id(value))
        if key is not None:
            sources.add(key)
        if _mappable(value):
            return True, list(value)
        return False, value


@overload
def task(fn: Callable[P, R]) -> Task[P, R]: ...
@overload
def task(
    fn: None = None, *, name: str | None = None, description: str | None = None, retries: int = 0,
    retry_delay_seconds: RetryDelay = 0, timeout_seconds: float | None = None,
    cache_expiration: timedelta | float | None = None, cache_key_fn: Callable[[dict[str, Any]], str | None] | None = None,
    cache: bool | None = None, tags: Iterable[str] = (),
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a function a Flowyard task: `@task` or `@task(retries=2, timeout_seconds=60, ...)`."""
    if fn is None:
        return lambda function: Task(function, **options)
    return Task(fn, **options)
