"""Tasks inside flows: calls, retries with delays, timeouts, submit, map, upstream failures, keys and tags."""

from __future__ import annotations

import threading
import time

import pytest

from flowyard.context import current_flow_run
from flowyard import (
    FlowCancelled,
    RecordingSink,
    RunState,
    Task,
    TaskFuture,
    TaskState,
    TaskTimeout,
    UpstreamFailed,
    exponential_backoff,
    flow,
    task,
    unmapped,
)


def run(flow_obj, parameters=None):
    sink = RecordingSink()
    return flow_obj.run(parameters or {}, sink=sink), sink


def test_a_task_called_outside_a_flow_just_runs_the_function():
    @task(retries=3)
    def add(a, b):
        return a + b

    assert add(2, 3) == 5
    assert isinstance(add, Task) and add.name == "add" and add.fn(1, 1) == 2


def test_a_task_called_in_a_flow_returns_its_value_and_reports_running_then_succeeded():
    @task
    def double(x):
        return x * 2

    @flow
    def pipeline():
        return double(21)

    flow_run, sink = run(pipeline)
    assert flow_run.state is RunState.SUCCEEDED and flow_run.result == 42
    assert sink.states_of("double-0") == [TaskState.RUNNING, TaskState.SUCCEEDED]


def test_task_keys_count_the_calls_of_each_task_within_the_run():
    @task
    def a():
        return 1

    @task(name="bee")
    def b():
        return 2

    @flow
    def pipeline():
        a(), a(), b(), a()

    flow_run, _ = run(pipeline)
    assert [f.key for f in flow_run.task_runs] == ["a-0", "a-1", "bee-0", "a-2"]


def test_a_failing_task_is_retried_with_its_delay_and_counts_its_attempts():
    attempts: list[float] = []

    @task(retries=2, retry_delay_seconds=0.2)
    def flaky():
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "ok"

    @flow
    def pipeline():
        return flaky()

    flow_run, sink = run(pipeline)
    assert flow_run.result == "ok"
    assert len(attempts) == 3
    assert all(later - earlier >= 0.2 for earlier, later in zip(attempts, attempts[1:]))
    events = [(e["state"], e["attempt"]) for e in sink.task_events]
    assert events == [(TaskState.RUNNING, 1), (TaskState.RETRYING, 1), (TaskState.RUNNING, 2),
                      (TaskState.RETRYING, 2), (TaskState.RUNNING, 3), (TaskState.SUCCEEDED, 3)]
    assert sink.task_events[1]["error"] == "ConnectionError: attempt 1 failed"
    assert any("retrying in 0.2 s" in line["message"] for line in sink.logs)


def test_a_task_that_keeps_failing_ends_failed_after_its_retries_and_the_flow_gets_its_error():
    calls = []

    @task(retries=1, retry_delay_seconds=[0.05])
    def broken():
        calls.append(1)
        raise ValueError("bad data")

    @flow
    def pipeline():
        broken()

    flow_run, sink = run(pipeline)
    assert len(calls) == 2
    assert flow_run.task_run("broken-0").state is TaskState.FAILED
    assert flow_run.state is RunState.FAILED and isinstance(flow_run.error, ValueError)
    assert flow_run.message == "ValueError: bad data"
    assert any("Traceback" in line["message"] and line["task_key"] == "broken-0" for line in sink.logs)


def test_retry_delays_can_be_a_list_per_attempt_or_exponential_backoff():
    listed = task(lambda: None, retries=4, retry_delay_seconds=[1, 5, 30])
    assert [listed.retry_delay(n) for n in (1, 2, 3, 4)] == [1, 5, 30, 30]
    backoff = task(lambda: None, retries=5, retry_delay_seconds=exponential_backoff(base=2, max_delay=10))
    assert [backoff.retry_delay(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    assert task(lambda: None, retry_delay_seconds=3).retry_delay(7) == 3


def test_a_task_past_its_timeout_fails_with_task_timeout_without_waiting_for_it():
    release = threading.Event()

    @task(timeout_seconds=0.3)
    def stuck():
        release.wait(30)

    @flow
    def pipeline():
        stuck()

    started = time.monotonic()
    flow_run, sink = run(pipeline)
    release.set()
    assert time.monotonic() - started < 10
    assert flow_run.task_run("stuck-0").state is TaskState.FAILED
    assert isinstance(flow_run.error, TaskTimeout)
    assert "timed out after 0.3 s" in str(flow_run.error)


def test_a_timed_out_attempt_is_retried():
    calls = []

    @task(timeout_seconds=0.2, retries=1)
    def slow_then_fast():
        calls.append(1)
        if len(calls) == 1:
            threading.Event().wait(5)
        return "fast"

    @flow
    def pipeline():
        return slow_then_fast()

    flow_run, sink = run(pipeline)
    assert flow_run.result == "fast"
    assert sink.states_of("slow_then_fast-0") == [TaskState.RUNNING, TaskState.RETRYING, TaskState.RUNNING,
                                                  TaskState.SUCCEEDED]


def test_submit_returns_a_future_at_once_and_result_waits_for_the_value():
    gate = threading.Event()

    @task
    def waits():
        gate.wait(30)
        return "done"

    @flow
    def pipeline():
        future = waits.submit()
        assert isinstance(future, TaskFuture) and not future.done()
        gate.set()
        return future.result(timeout=30), future.state

    flow_run, sink = run(pipeline)
    assert flow_run.result == ("done", TaskState.SUCCEEDED)
    assert sink.states_of("waits-0") == [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED]


def test_map_runs_one_task_per_item_concurrently_with_map_indexes():
    barrier = threading.Barrier(3, timeout=30)

    @task
    def square(x, offset):
        barrier.wait()  # all three must be running at the same time to get past this
        return x * x + offset

    @flow
    def pipeline():
        futures = square.map([1, 2, 3], offset=unmapped(10))
        return futures, [f.result() for f in futures]

    flow_run, _ = run(pipeline)
    futures, values = flow_run.result
    assert values == [11, 14, 19]
    assert [(f.key, f.map_index) for f in futures] == [("square-0", 0), ("square-1", 1), ("square-2", 2)]


def test_map_over_futures_passes_each_result_on():
    @task
    def double(x):
        return 2 * x

    @task
    def plus_one(x):
        return x + 1

    @flow
    def pipeline():
        return [f.result() for f in plus_one.map(double.map(range(4)))]

    assert run(pipeline)[0].result == [1, 3, 5, 7]


def test_map_refuses_iterables_of_different_lengths():
    @task
    def pair(a, b):
        return a, b

    @flow
    def pipeline():
        pair.map([1, 2], [1, 2, 3])

    flow_run, _ = run(pipeline)
    assert flow_run.state is RunState.FAILED and "different lengths" in str(flow_run.error)


def test_a_task_whose_input_future_failed_is_upstream_failed_and_never_runs():
    ran = []

    @task
    def extract():
        raise RuntimeError("source is down")

    @task
    def load(rows):
        ran.append(rows)

    @flow
    def pipeline():
        rows = extract.submit()
        return load.submit({"batch": [rows]})  # the failed future is nested in a dict and a list

    flow_run, sink = run(pipeline)
    assert ran == []
    assert flow_run.task_run("extract-0").state is TaskState.FAILED
    assert sink.states_of("load-0") == [TaskState.PENDING, TaskState.UPSTREAM_FAILED]
    downstream = flow_run.task_run("load-0")
    assert isinstance(downstream.exception(), UpstreamFailed) and "extract-0" in str(downstream.exception())
    assert flow_run.state is RunState.FAILED  # nobody read the failed results: the flow fails


def test_a_failed_future_whose_error_the_flow_handles_does_not_fail_the_flow():
    @task
    def optional():
        raise KeyError("missing")

    @flow
    def pipeline():
        future = optional.submit()
        try:
            future.result()
        except KeyError:
            return "fallback"

    flow_run, _ = run(pipeline)
    assert flow_run.state is RunState.SUCCEEDED and flow_run.result == "fallback"


def test_the_flow_waits_for_submitted_tasks_before_it_ends():
    @task
    def slow():
        threading.Event().wait(0.2)
        return 1

    @flow
    def pipeline():
        slow.submit()

    flow_run, _ = run(pipeline)
    assert flow_run.task_run("slow-0").state is TaskState.SUCCEEDED


def test_tags_are_kept_on_every_task_run():
    @task(tags=["io", "db"])
    def tagged():
        return 1

    @flow
    def pipeline():
        tagged()

    flow_run, _ = run(pipeline)
    assert flow_run.task_run("tagged-0").tags == ["io", "db"]


def test_cancelling_a_run_marks_running_tasks_cancelled_and_starts_no_more():
    started = threading.Event()
    holder: dict = {}
    ran_after = []

    @task
    def long():
        holder["run"] = current_flow_run()
        started.set()
        threading.Event().wait(30)

    @task
    def later():
        ran_after.append(1)

    @flow(max_workers=1)
    def pipeline():
        long.submit()
        later.submit()

    thread = threading.Thread(target=lambda: holder.setdefault("result", run(pipeline)))
    thread.start()
    assert started.wait(30)
    holder["run"].cancel("stopped by the test")
    thread.join(30)
    flow_run, sink = holder["result"]
    assert flow_run.state is RunState.CANCELLED
    assert sink.states_of("long-0")[-1] is TaskState.CANCELLED
    later_states = sink.states_of("later-0")  # PENDING first unless it was submitted after the cancel
    assert later_states[-1] is TaskState.CANCELLED and TaskState.RUNNING not in later_states
    assert ran_after == []


@pytest.mark.parametrize("bad", [{"retries": -1}, {"retries": 1.5}, {"timeout_seconds": 0}])
def test_impossible_task_options_are_refused(bad):
    with pytest.raises(ValueError):
        task(lambda: None, **bad)


def test_async_functions_are_refused_as_tasks_and_flows_with_the_alternative():
    async def fetch():
        return 1

    with pytest.raises(TypeError, match="asyncio.run"):
        task(fetch)
    with pytest.raises(TypeError, match="asyncio.run"):
        flow(fetch)


def test_result_of_a_cancelled_task_raises_flow_cancelled():
    @task
    def long():
        threading.Event().wait(5)

    holder = {}

    @flow
    def pipeline():
        future = long.submit()
        holder["future"] = future
        future.flow_run.cancel("stop")
        future.result()

    flow_run, sink = run(pipeline)
    assert flow_run.state is RunState.CANCELLED
    assert holder["future"].state is TaskState.CANCELLED
    with pytest.raises(FlowCancelled):
        holder["future"].result()
