"""Run-level retries: user failures spend the config's `retries`, crashes FLOWYARD_CRASH_RETRIES, apart."""

from __future__ import annotations

import pytest
from django.db import transaction

from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.runs.retries import retry_if_due
from flowyard_testkit.registration import register_version
from flowyard_spec.states import RunReason, RunState
from flowyard_testkit.run_ends import end_run as end
from flowyard_testkit.tenants import digest


@pytest.fixture
def flaky(tenant_a):
    """Tenant A's test deployment running a version whose config allows one retry."""
    version = register_version(
        workflow=tenant_a.workflow, image_digest=digest("flaky"), image_ref="127.0.0.1:5000/etl:flaky",
        config={"name": "etl", "retries": 1, "parameters": {"day": "2026-01-01", "limit": 10}},
    )
    Run.objects.filter(pk=tenant_a.run.pk).update(version=version)
    return Run.objects.get(pk=tenant_a.run.pk)


def next_attempt(run: Run) -> Run | None:
    return Run.objects.filter(retry_of=run).first()


def test_a_user_failure_is_retried_once_with_the_same_version_and_parameters(flaky, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        end(flaky, RunState.FAILED, RunReason.USER_ERROR)
    retry = next_attempt(flaky)
    assert retry is not None
    assert (retry.state, retry.trigger, retry.attempt) == ("QUEUED", "retry", 2)
    assert (retry.version_id, retry.parameters) == (flaky.version_id, flaky.parameters)
    assert (retry.user_error_retries, retry.crash_retries) == (1, 0)
    with django_capture_on_commit_callbacks(execute=True):
        end(retry, RunState.FAILED, RunReason.USER_ERROR)
    assert next_attempt(retry) is None, "the config allows one retry"


def test_crashes_are_counted_apart_from_user_failures(flaky, settings, django_capture_on_commit_callbacks):
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"crash_retries": 1})
    with django_capture_on_commit_callbacks(execute=True):
        end(flaky, RunState.CRASHED, RunReason.HEARTBEAT_LOST)
    second = next_attempt(flaky)
    assert (second.attempt, second.user_error_retries, second.crash_retries) == (2, 0, 1)
    with django_capture_on_commit_callbacks(execute=True):
        end(second, RunState.FAILED, RunReason.USER_ERROR)
    third = next_attempt(second)
    assert (third.attempt, third.user_error_retries, third.crash_retries) == (3, 1, 1), "a crash spent no user retry"
    with django_capture_on_commit_callbacks(execute=True):
        end(third, RunState.CRASHED, RunReason.WORKER_LOST)
    assert next_attempt(third) is None, "the crash budget is spent"


@pytest.mark.parametrize(
    ("state", "reason"),
    [(RunState.SUCCEEDED, None), (RunState.CANCELLED, RunReason.CANCELLED), (RunState.FAILED, RunReason.IMAGE_ERROR)],
)
def test_successes_cancels_and_image_errors_are_never_retried(flaky, state, reason, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        if state == RunState.CANCELLED:
            with transaction.atomic():
                run = Run.objects.select_for_update().get(pk=flaky.pk)
                lifecycle.transition(run, RunState.CANCELLED, reason=reason)
                run.save()
        else:
            end(flaky, state, reason)
    assert next_attempt(flaky) is None


def test_asking_twice_queues_one_retry(flaky):
    end(flaky, RunState.FAILED, RunReason.USER_ERROR)  # on_commit is not run here: ask by hand, twice
    first, second = retry_if_due(flaky.pk), retry_if_due(flaky.pk)
    assert first is not None and second is None
    assert Run.objects.filter(retry_of=flaky).count() == 1


def test_a_run_ended_by_the_runner_is_retried_through_the_api(flaky, client_for, django_capture_on_commit_callbacks):
    from flowyard_testkit.tokens import run_token_issue

    runner = client_for(None)
    runner.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=flaky)}")
    events = [{"type": "run", "state": "RUNNING", "at": "2026-01-01T00:00:00+00:00"},
              {"type": "run", "state": "FAILED", "reason": "user_error", "at": "2026-01-01T00:00:01+00:00"}]
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.post(f"/api/v1/runner/runs/{flaky.pk}/events/", {"events": events}, format="json").status_code == 200
    retry = next_attempt(flaky)
    shown = client_for(flaky.triggered_by).get(f"/api/v1/runs/{retry.pk}/").json()
    assert (shown["attempt"], shown["user_error_retries"], shown["retry_of"]) == (2, 1, str(flaky.pk))
