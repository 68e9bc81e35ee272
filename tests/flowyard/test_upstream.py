"""Upstream task runs: each task run records the task runs it was given, reported with its first event."""

from __future__ import annotations

import io

from flowyard import ConsoleSink, RecordingSink, RunState, flow, task, unmapped
from flowyard.reporting import ReportingSink
from flowyard_spec.api import MAX_UPSTREAM_KEYS
from flowyard_test_support import contract_errors


def upstream_of(flow_obj, sink=None):
    flow_run = flow_obj.run({}, sink=sink or RecordingSink())
    assert flow_run.state is RunState.SUCCEEDED, flow_run.error
    return {future.key: list(future.upstream) for future in flow_run.task_runs}


@task
def a():
    return [1, 2, 3]


@task
def b(rows):
    return {"rows": rows}


@task
def c(*inputs, **named):
    return len(inputs) + len(named)


@task
def square(x, offset=0):
    return x * x + offset


def test_futures_given_by_position_keyword_or_nested_are_the_upstream_sorted_and_deduplicated():
    @flow
    def pipeline():
        first = a.submit()
        second = b.submit(first)
        c(second, first)  # out of order, and first twice below
        c.submit(first, extra={"deep": [second]}, again=(first,)).result()
        c({square.submit(2), "x"}, [(first,)])  # in a set, and two levels deep

    assert upstream_of(pipeline) == {
        "a-0": [], "b-0": ["a-0"], "c-0": ["a-0", "b-0"], "c-1": ["a-0", "b-0"], "square-0": [],
        "c-2": ["a-0", "square-0"],
    }


def test_the_results_of_called_tasks_count_too_but_plain_values_do_not():
    @flow
    def pipeline():
        rows = a()
        table = b(rows)
        c(rows, table)
        c([1, {"table": table}], "text")  # two levels deep
        c(1, "x", [1, 2], {"k": (3, 4)}, 2.5, None)
        c(*a())  # the items of a list result are not its result (and small ints say nothing)

    assert upstream_of(pipeline) == {
        "a-0": [], "b-0": ["a-0"], "c-0": ["a-0", "b-0"], "c-1": ["b-0"], "c-2": [], "a-1": [], "c-3": [],
    }


def test_each_mapped_run_gets_the_future_it_iterates_its_own_item_and_the_shared_arguments():
    @flow
    def pipeline():
        rows = a.submit()
        square.map(rows)  # a future's list: every item came from it
        offset = c.submit(1)
        firsts = square.map([1, 2], offset=unmapped(offset))
        seconds = square.map(firsts)  # a list of futures: one each
        c(seconds)  # the results of a map, fanned in
        square.map(a(), offset=3)

    assert upstream_of(pipeline) == {
        "a-0": [], "square-0": ["a-0"], "square-1": ["a-0"], "square-2": ["a-0"],
        "c-0": [], "square-3": ["c-0"], "square-4": ["c-0"],
        "square-5": ["square-3"], "square-6": ["square-4"],
        "c-1": ["square-5", "square-6"],
        "a-1": [], "square-7": ["a-1"], "square-8": ["a-1"], "square-9": ["a-1"],
    }


def test_upstream_is_capped_keeping_the_first_keys_in_sorted_order():
    @task
    def one(i):
        return i

    @flow
    def pipeline():
        c(one.map(range(MAX_UPSTREAM_KEYS + 5)))

    fan_in = upstream_of(pipeline)["c-0"]
    assert len(fan_in) == MAX_UPSTREAM_KEYS and fan_in == sorted(fan_in) and fan_in[0] == "one-0"


class Collector:
    """Stands in for the Reporter: keeps what the sink queues."""

    def __init__(self):
        self.events = []

    def emit(self, event):
        self.events.append(event)

    emit_final = emit


def test_the_first_event_of_a_task_run_carries_its_upstream_and_later_ones_do_not():
    collector = Collector()

    @flow
    def pipeline():
        first = a.submit()
        b(first)
        c(b.submit(first))

    upstream_of(pipeline, ReportingSink(collector))
    tasks = [event for event in collector.events if event["type"] == "task"]
    assert all(contract_errors(event) == [] for event in tasks)
    firsts = {}
    for event in tasks:
        firsts.setdefault(event["task_key"], event)
    assert {key: event.get("upstream") for key, event in firsts.items()} == {
        "a-0": None, "b-0": ["a-0"], "b-1": ["a-0"], "c-0": ["b-1"],
    }
    assert [event["state"] for event in tasks if "upstream" in event and event["task_key"] == "b-1"] == ["PENDING"]
    assert sum("upstream" in event for event in tasks) == 3


def test_the_console_names_the_upstream_on_a_task_runs_first_line():
    out = io.StringIO()

    @flow
    def pipeline():
        b(a.submit())

    upstream_of(pipeline, ConsoleSink(out))
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert "task b-0 RUNNING attempt 1 after a-0" in lines and "task b-0 SUCCEEDED" in lines
