"""The runner reports run, task and log events in batches; replays never duplicate and terminal states hold."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.runs.models import Run, RunLogLine, TaskRun
from flowyard_testkit.tokens import run_token_issue
from flowyard_spec.states import RunState

AT = "2026-05-01T12:00:00+00:00"


@pytest.fixture
def runner(tenant_a, client_for):
    """An API client holding tenant A's run token."""
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=tenant_a.run)}")
    client.url = f"/api/v1/runner/runs/{tenant_a.run.pk}/events/"
    return client


def post(runner, *events):
    return runner.post(runner.url, {"events": list(events)}, format="json")


def log(seq, message=None, **extra):
    return {"type": "log", "seq": seq, "at": AT, "message": message or f"line {seq}", **extra}


def task(key, state, **extra):
    return {"type": "task", "task_key": key, "name": key.rsplit("-", 1)[0], "state": state, "at": AT, **extra}


def run_state(state, **extra):
    return {"type": "run", "state": state, "at": AT, **extra}


def test_a_batch_is_stored_and_replaying_it_changes_nothing(tenant_a, runner):
    batch = [run_state("RUNNING"), task("transform-0", "RUNNING"), log(4), log(5, task_key="transform-0"),
             task("transform-0", "SUCCEEDED")]
    first = post(runner, *batch)
    assert first.status_code == 200
    assert first.json() == {"run_state": "RUNNING", "cancel_requested": False, "last_log_seq": 5}
    assert post(runner, *batch).json()["last_log_seq"] == 5
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert run.state == RunState.RUNNING and run.started_at is not None and run.heartbeat_at is not None
    assert list(RunLogLine.objects.filter(run=run).values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    stored = TaskRun.objects.get(run=run, task_key="transform-0")
    assert stored.state == "SUCCEEDED" and stored.started_at is not None and stored.ended_at is not None


def test_start_and_end_are_the_runners_times_even_when_one_batch_carries_both(tenant_a, runner):
    from datetime import timedelta

    from django.utils import timezone

    Run.objects.filter(pk=tenant_a.run.pk).update(created_at=timezone.now() - timedelta(seconds=10))
    run = Run.objects.get(pk=tenant_a.run.pk)
    started = run.created_at + timedelta(milliseconds=300)
    ended = started + timedelta(milliseconds=1500)
    post(runner, {"type": "run", "state": "RUNNING", "at": started.isoformat()},
         {"type": "run", "state": "SUCCEEDED", "at": ended.isoformat()})
    run.refresh_from_db()
    assert (run.started_at, run.ended_at) == (started, ended)


def test_a_runner_clock_outside_the_runs_lifetime_is_clamped(tenant_a, runner):
    from datetime import timedelta

    from django.utils import timezone

    run = Run.objects.get(pk=tenant_a.run.pk)
    post(runner, {"type": "run", "state": "RUNNING", "at": (run.created_at - timedelta(days=1)).isoformat()},
         {"type": "run", "state": "SUCCEEDED", "at": (timezone.now() + timedelta(days=1)).isoformat()})
    run.refresh_from_db()
    assert run.started_at == run.created_at
    assert run.created_at <= run.ended_at <= timezone.now()


def test_logs_read_back_in_sequence_order_whatever_order_they_arrived_in(tenant_a, runner, client_for):
    post(runner, log(6), log(4))
    post(runner, log(5))
    page = client_for(tenant_a.admin).get(
        f"/api/v1/runs/{tenant_a.run.pk}/logs/", {"after": 3}
    ).json()
    assert [line["seq"] for line in page["lines"]] == [4, 5, 6]
    assert page["next_after"] == 6


def test_a_finished_task_is_not_moved_back_by_a_replayed_older_event(tenant_a, runner):
    post(runner, task("load-0", "RUNNING"), task("load-0", "SUCCEEDED"))
    post(runner, task("load-0", "RUNNING"))
    assert TaskRun.objects.get(run=tenant_a.run, task_key="load-0").state == "SUCCEEDED"


def test_a_task_retry_with_a_higher_attempt_is_recorded(tenant_a, runner):
    post(runner, task("load-0", "FAILED", attempt=1, error="boom"))
    post(runner, task("load-0", "RUNNING", attempt=2), task("load-0", "SUCCEEDED", attempt=2))
    stored = TaskRun.objects.get(run=tenant_a.run, task_key="load-0")
    assert (stored.state, stored.attempt, stored.error) == ("SUCCEEDED", 2, "")
    assert stored.attempts == [{"attempt": 1, "state": "FAILED", "started_at": None, "ended_at": "2026-05-01T12:00:00Z"}]


def at(seconds):
    return f"2026-05-01T12:00:{seconds:02d}+00:00"


def test_a_retried_task_keeps_its_earlier_attempt_once_and_the_api_shows_it(tenant_a, runner, client_for):
    first = [task("load-0", "RUNNING", attempt=1, at=at(1)), task("load-0", "RETRYING", attempt=1, at=at(3), error="boom")]
    second = [task("load-0", "RUNNING", attempt=2, at=at(5)), task("load-0", "SUCCEEDED", attempt=2, at=at(9))]
    for batch in (first, second, second, first, [*first, *second]):  # each batch delivered, then delivered again
        assert post(runner, *batch).status_code == 200
    stored = TaskRun.objects.get(run=tenant_a.run, task_key="load-0")
    earlier = {"attempt": 1, "state": "RETRYING", "started_at": "2026-05-01T12:00:01Z", "ended_at": "2026-05-01T12:00:03Z"}
    assert stored.attempts == [earlier]
    assert (stored.state, stored.attempt, stored.error) == ("SUCCEEDED", 2, "")
    assert (stored.started_at.second, stored.ended_at.second) == (5, 9), "the task run's times are the latest attempt's"
    listed = client_for(tenant_a.admin).get(f"/api/v1/runs/{tenant_a.run.pk}/tasks/").json()
    shown = next(item for item in listed if item["task_key"] == "load-0")
    assert shown["attempts"] == [earlier] and shown["attempt"] == 2
    assert shown["started_at"] == "2026-05-01T12:00:05Z"
    assert all(item["attempts"] == [] for item in listed if item["task_key"] != "load-0")


def test_a_redelivered_batch_of_a_task_still_retrying_changes_nothing(tenant_a, runner):
    batch = [task("load-0", "RUNNING", attempt=1, at=at(1)), task("load-0", "RETRYING", attempt=1, at=at(3)),
             task("load-0", "RUNNING", attempt=2, at=at(5))]
    post(runner, *batch)
    post(runner, *batch)
    post(runner, batch[0])  # an earlier attempt's event alone does not move the new attempt back
    stored = TaskRun.objects.get(run=tenant_a.run, task_key="load-0")
    assert [entry["attempt"] for entry in stored.attempts] == [1]
    assert (stored.state, stored.attempt, stored.started_at.second, stored.ended_at) == ("RUNNING", 2, 5, None)


def test_a_retrying_attempt_is_not_moved_back_to_running_by_a_replayed_event(tenant_a, runner):
    post(runner, task("load-0", "RUNNING", attempt=1, at=at(1)), task("load-0", "RETRYING", attempt=1, at=at(3)))
    post(runner, task("load-0", "RUNNING", attempt=1, at=at(1)))
    stored = TaskRun.objects.get(run=tenant_a.run, task_key="load-0")
    assert (stored.state, stored.attempt, stored.ended_at.second) == ("RETRYING", 1, 3)


def test_only_the_last_earlier_attempts_are_kept(tenant_a, runner):
    from controlplane.runs.models.runs import MAX_EARLIER_ATTEMPTS

    kept = [{"attempt": n, "state": "RETRYING", "started_at": None, "ended_at": None}
            for n in range(1, MAX_EARLIER_ATTEMPTS + 1)]
    TaskRun.objects.create(run=tenant_a.run, task_key="load-0", name="load", state="RETRYING",
                           attempt=MAX_EARLIER_ATTEMPTS + 1, attempts=kept)
    post(runner, task("load-0", "RUNNING", attempt=MAX_EARLIER_ATTEMPTS + 2))
    attempts = TaskRun.objects.get(run=tenant_a.run, task_key="load-0").attempts
    assert len(attempts) == MAX_EARLIER_ATTEMPTS
    assert (attempts[0]["attempt"], attempts[-1]["attempt"]) == (2, MAX_EARLIER_ATTEMPTS + 1)


def test_a_failed_report_ends_the_run_with_its_reason_and_kills_the_token(tenant_a, runner):
    post(runner, run_state("RUNNING"))
    reply = post(runner, log(4, "Traceback ..."), run_state("FAILED", reason="user_error", message="ValueError"))
    assert reply.json()["run_state"] == "FAILED"
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert (run.reason, run.message) == ("user_error", "ValueError") and run.ended_at is not None
    assert RunLogLine.objects.filter(run=run, seq=4).exists(), "the last lines travel with the terminal event"
    again = post(runner, run_state("SUCCEEDED"))
    assert again.status_code == 401 and again.json()["code"] == "run_ended"
    assert Run.objects.get(pk=run.pk).state == "FAILED"


def test_a_late_success_after_a_cancel_request_is_refused_and_the_runner_is_told_to_cancel(tenant_a, runner, client_for):
    post(runner, run_state("RUNNING"))
    client_for(tenant_a.admin).post(f"/api/v1/runs/{tenant_a.run.pk}/cancel/", format="json")
    reply = post(runner, run_state("SUCCEEDED"))
    assert reply.json() == {"run_state": "CANCELLING", "cancel_requested": True, "last_log_seq": 3}
    assert post(runner, run_state("CANCELLED")).json()["run_state"] == "CANCELLED"
    assert Run.objects.get(pk=tenant_a.run.pk).reason == "cancelled"


def test_a_malformed_batch_is_refused_whole_naming_the_event(tenant_a, runner):
    reply = post(runner, log(4), {"type": "log", "seq": 5, "at": "yesterday", "message": "x"})
    assert reply.status_code == 400 and "events.1.at" in reply.json()["extra"]["fields"]
    assert not RunLogLine.objects.filter(run=tenant_a.run, seq=4).exists()
    unknown = post(runner, {"type": "telemetry", "at": AT})
    assert unknown.status_code == 400


def test_a_replaced_run_token_no_longer_works(tenant_a, runner):
    run_token_issue(run=tenant_a.run)
    refused = post(runner, log(4))
    assert refused.status_code == 401 and refused.json()["code"] == "run_token_unknown"


def test_a_runner_request_finds_its_run_through_the_token_index_not_by_reading_every_run(tenant_a, runner):
    with CaptureQueriesContext(connection) as queries:
        assert post(runner, log(4)).status_code == 200
    lookup = next(query["sql"] for query in queries.captured_queries if '"token_hash" =' in query["sql"])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {lookup}")
        else:  # a tiny table is scanned whole unless the planner is told not to (it cannot when there is no index)
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {lookup}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "run_token_hash" in plan and "Sort" not in plan, plan


def test_a_task_runs_upstream_is_stored_from_its_first_event_and_kept_by_later_ones(tenant_a, runner, client_for):
    post(runner, task("extract-0", "SUCCEEDED"), task("load-0", "PENDING", upstream=["transform-0", "extract-0"]))
    post(runner, task("load-0", "RUNNING"), task("load-0", "SUCCEEDED"))
    stored = {t.task_key: t.upstream_keys for t in TaskRun.objects.filter(run=tenant_a.run)}
    assert stored == {"extract-0": [], "load-0": ["extract-0", "transform-0"]}
    listed = client_for(tenant_a.admin).get(f"/api/v1/runs/{tenant_a.run.pk}/tasks/").json()
    assert {item["task_key"]: item["upstream"] for item in listed} == stored


def test_an_upstream_that_is_not_a_list_of_task_keys_is_refused(tenant_a, runner):
    reply = post(runner, task("load-0", "PENDING", upstream="extract-0"))
    assert reply.status_code == 400 and "events.0.upstream" in reply.json()["extra"]["fields"]


def test_an_upstream_past_the_cap_is_kept_to_its_first_sorted_keys(tenant_a, runner):
    from flowyard_spec.api import MAX_UPSTREAM_KEYS

    keys = [f"one-{i}" for i in range(MAX_UPSTREAM_KEYS + 5)]
    post(runner, task("sum-0", "PENDING", upstream=[*keys, keys[0]]))
    stored = TaskRun.objects.get(run=tenant_a.run, task_key="sum-0").upstream_keys
    assert stored == sorted(keys)[:MAX_UPSTREAM_KEYS]


# Queries for a batch that ends a run, its end heard by every receiver (retries, pricing, budget, alerts, downstream
# runs): they share one read of the ended run.
RUN_END_MAX_QUERIES = 14


def test_ending_a_run_with_everything_that_hears_of_it_makes_a_bounded_number_of_queries(
        tenant_a, runner, django_assert_max_num_queries, django_capture_on_commit_callbacks):
    post(runner, run_state("RUNNING"), task("transform-0", "RUNNING"), task("transform-0", "SUCCEEDED"))
    with django_assert_max_num_queries(RUN_END_MAX_QUERIES), django_capture_on_commit_callbacks(execute=True):
        assert post(runner, log(1, "done"), run_state("SUCCEEDED")).status_code == 200
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert run.state == RunState.SUCCEEDED
    assert run.cost.amount is not None  # priced by its receiver
