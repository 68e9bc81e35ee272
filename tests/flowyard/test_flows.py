"""Flows: parameters checked against type hints before any task runs, coercion of strings, final states."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Optional

import pytest

from flowyard import Flow, FlowFailed, ParameterError, RecordingSink, RunState, flow, task
from flowyard.parameters import validate_parameters


def test_flow_objects_expose_fn_and_name_for_validate():
    @flow(name="etl")
    def pipeline(day: str = "2026-01-01"):
        return day

    assert isinstance(pipeline, Flow) and pipeline.name == "etl" and pipeline.fn("x") == "x"
    assert flow(pipeline.fn).name == "pipeline"


def test_calling_a_flow_runs_it_and_returns_its_value():
    @task
    def inc(x):
        return x + 1

    @flow
    def pipeline(x: int):
        return inc(x)

    assert pipeline(1) == 2
    assert pipeline(x="41") == 42


def test_a_parameter_of_the_wrong_type_fails_before_any_task_runs_naming_the_parameter():
    ran = []

    @task
    def record():
        ran.append(1)

    @flow
    def pipeline(day: date, count: int = 1):
        record()

    sink = RecordingSink()
    flow_run = pipeline.run({"day": "2026-01-01", "count": [1, 2]}, sink=sink)
    assert flow_run.state is RunState.FAILED
    assert isinstance(flow_run.error, ParameterError) and flow_run.error.parameter == "count"
    assert "parameter 'count': expected int, got list" in str(flow_run.error)
    assert ran == [] and sink.task_events == []
    with pytest.raises(ParameterError, match="parameter 'day'"):
        pipeline(day="yesterday")


def test_unknown_and_missing_parameters_are_named():
    def fn(day: str, limit: int = 5): ...

    with pytest.raises(ParameterError, match="parameter 'dya': the flow has no such parameter"):
        validate_parameters(fn, {"dya": "x", "day": "y"})
    with pytest.raises(ParameterError, match="parameter 'day': is required"):
        validate_parameters(fn, {})


def test_strings_from_the_command_line_are_coerced_to_the_declared_types():
    def fn(n: int, ratio: float, flag: bool, day: date, at: datetime, items: list[int], options: dict[str, int],
           maybe: Optional[int] = None, mode: Literal["full", "delta"] = "full", name: str = ""): ...

    values = validate_parameters(fn, {
        "n": "3", "ratio": "0.5", "flag": "false", "day": "2026-01-02", "at": "2026-01-02T03:04:05Z",
        "items": "[1, 2]", "options": '{"a": 1}', "maybe": "7", "mode": "delta", "name": "42",
    })
    assert values == {
        "n": 3, "ratio": 0.5, "flag": False, "day": date(2026, 1, 2),
        "at": datetime.fromisoformat("2026-01-02T03:04:05+00:00"), "items": [1, 2], "options": {"a": 1},
        "maybe": 7, "mode": "delta", "name": "42",
    }


@pytest.mark.parametrize(
    ("hint", "value"),
    [(int, "3.5"), (int, True), (int, 2.0), (float, "fast"), (bool, "maybe"), (date, "01/02/2026"),
     (list[int], '["a"]'), (dict[str, int], "[1]"), (str, 5), (Literal["a", "b"], "c")],
)
def test_values_that_do_not_fit_the_hint_are_refused(hint, value):
    def fn(p): ...

    fn.__annotations__ = {"p": hint}
    with pytest.raises(ParameterError, match="parameter 'p': expected"):
        validate_parameters(fn, {"p": value})


def test_json_numbers_fit_float_parameters_and_unannotated_parameters_take_anything():
    def fn(ratio: float, anything, rest: "list[str] | None" = None): ...

    assert validate_parameters(fn, {"ratio": 1, "anything": {"x": object}}) == {"ratio": 1.0, "anything": {"x": object}}


def test_a_flow_called_inside_another_flow_runs_as_part_of_it():
    @task
    def step(x):
        return x

    @flow
    def child(x: int):
        return step(x) * 10

    @flow
    def parent():
        return child("2") + step(1)

    flow_run = parent.run({}, sink=RecordingSink())
    assert flow_run.result == 21
    assert [f.key for f in flow_run.task_runs] == ["step-0", "step-1"]


def test_a_submitted_task_that_failed_unread_fails_the_flow():
    @task
    def broken():
        raise OSError("disk full")

    @flow
    def pipeline():
        broken.submit()

    flow_run = pipeline.run({}, sink=RecordingSink())
    assert flow_run.state is RunState.FAILED and isinstance(flow_run.error, FlowFailed)
    assert "task broken-0 ended FAILED: OSError: disk full" in flow_run.message
    with pytest.raises(FlowFailed):
        pipeline()


def test_a_flow_reports_running_then_its_final_state_to_its_sink():
    @flow
    def pipeline():
        raise RuntimeError("boom")

    sink = RecordingSink()
    pipeline.run({}, sink=sink)
    assert sink.run_states == [(RunState.RUNNING, None, None), (RunState.FAILED, "user_error", "RuntimeError: boom")]


def test_tasks_still_unfinished_when_the_flow_fails_are_cancelled_and_queued_ones_never_start():
    import threading

    started, ran = threading.Event(), []

    @task
    def slow():
        started.set()
        threading.Event().wait(30)

    @task
    def queued():
        ran.append(1)

    @flow(max_workers=1)
    def pipeline():
        slow.submit()
        queued.submit()
        assert started.wait(30)
        raise RuntimeError("the flow gives up")

    sink = RecordingSink()
    flow_run = pipeline.run({}, sink=sink)
    assert flow_run.state is RunState.FAILED and flow_run.message == "RuntimeError: the flow gives up"
    assert sink.states_of("slow-0")[-1] == "CANCELLED" and sink.states_of("queued-0")[-1] == "CANCELLED"
    assert ran == []
