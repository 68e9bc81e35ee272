"""`run_context()` tells a flow which run it is in, which environment, which tick and which upstream run."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from flowyard import RunContext, run_context
from flowyard_test_support import run_runner, runner_env, write_workflow

RUN_ID = "0b5a4c1e-5d2f-4a8e-9d35-1f2c3b4a5d6e"
UPSTREAM_ID = "7e6d5c4b-3a29-4187-a6b5-c4d3e2f1a0b9"


def test_a_run_started_by_an_upstream_run_sees_every_field():
    context = run_context({
        "FLOWYARD_RUN_ID": RUN_ID, "FLOWYARD_ENVIRONMENT": "production",
        "FLOWYARD_SCHEDULED_FOR": "2026-03-01T14:00:00+00:00", "FLOWYARD_UPSTREAM_RUN_ID": UPSTREAM_ID,
    })
    assert context == RunContext(run_id=RUN_ID, environment="production",
                                 scheduled_for=datetime(2026, 3, 1, 14, tzinfo=timezone.utc), upstream_run_id=UPSTREAM_ID)


def test_outside_flowyard_every_field_is_none():
    assert run_context({}) == RunContext(run_id=None, environment=None, scheduled_for=None, upstream_run_id=None)


def test_a_manual_run_has_no_tick_and_no_upstream_run():
    context = run_context({"FLOWYARD_RUN_ID": RUN_ID, "FLOWYARD_ENVIRONMENT": "test", "FLOWYARD_UPSTREAM_RUN_ID": ""})
    assert (context.run_id, context.scheduled_for, context.upstream_run_id) == (RUN_ID, None, None)


def test_a_tick_without_a_timezone_is_utc_and_z_is_understood():
    naive = run_context({"FLOWYARD_SCHEDULED_FOR": "2026-03-01T14:00:00"}).scheduled_for
    zulu = run_context({"FLOWYARD_SCHEDULED_FOR": "2026-03-01T14:00:00Z"}).scheduled_for
    assert naive == zulu == datetime(2026, 3, 1, 14, tzinfo=timezone.utc)


def test_a_tick_that_is_not_a_time_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="FLOWYARD_SCHEDULED_FOR='yesterday' is not an ISO 8601 time"):
        run_context({"FLOWYARD_SCHEDULED_FOR": "yesterday"})


def test_the_context_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        run_context({}).run_id = "changed"  # type: ignore[misc]


def test_it_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("FLOWYARD_UPSTREAM_RUN_ID", UPSTREAM_ID)
    assert run_context().upstream_run_id == UPSTREAM_ID


def test_a_flow_run_by_the_runner_sees_its_upstream_run(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow, run_context

        @flow
        def downstream():
            context = run_context()
            print("upstream", context.upstream_run_id, "in", context.environment, "for", context.scheduled_for)
    """)
    env = runner_env({"FLOWYARD_UPSTREAM_RUN_ID": UPSTREAM_ID, "FLOWYARD_ENVIRONMENT": "test",
                      "FLOWYARD_SCHEDULED_FOR": "2026-03-01T14:00:00+00:00"})
    code, runner = run_runner(tmp_path, env=env)
    assert code == 0, runner.output
    assert f"upstream {UPSTREAM_ID} in test for 2026-03-01 14:00:00+00:00" in runner.output
