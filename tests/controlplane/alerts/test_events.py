"""Which events become alerts: a failed last attempt once, a recovery, lateness, long runs, promotions, budgets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from controlplane.alerts import events, services
from controlplane.alerts.models import Alert, Delivery
from controlplane.runs.models import Run, RunLogLine
from flowyard_spec.states import RunReason, RunState
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest

from .conftest import end, new_run

# What the tests raise, without the alert every tenant is seeded with.
NEW_ALERTS = Alert.objects.exclude(rule__name="seeded")
NEW_DELIVERIES = Delivery.objects.exclude(channel__name="seeded")


def test_a_failed_run_raises_one_alert_with_one_delivery_per_channel(tenant_a, failure_rule, hook_channel,
                                                                      django_capture_on_commit_callbacks):
    run = new_run(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        end(run, RunState.FAILED, RunReason.USER_ERROR)
    (alert,) = NEW_ALERTS.filter(run=run)
    assert alert.event == "run_failed" and alert.rule == failure_rule
    assert "FAILED" in alert.title and "alpha-main/etl in test" in alert.title and "user_error" in alert.title
    assert "The workflow's own code failed" in alert.text
    assert alert.link.endswith(f"/runs/{run.pk}/")
    assert [d.channel for d in NEW_DELIVERIES.filter(alert=alert)] == [hook_channel]


def test_the_same_end_heard_again_raises_nothing_more(tenant_a, failure_rule, django_capture_on_commit_callbacks):
    run = new_run(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        end(run, RunState.FAILED, RunReason.USER_ERROR)
    assert events.alerts_for_run_end(run.pk) == []
    assert events.alerts_for_run_end(run.pk) == []
    assert NEW_ALERTS.filter(run=run).count() == 1
    assert NEW_DELIVERIES.filter(alert__run=run).count() == 1


def test_a_failure_that_a_retry_follows_is_not_alerted_but_the_last_attempt_is(tenant_a, failure_rule,
                                                                                django_capture_on_commit_callbacks):
    version = register_version(workflow=tenant_a.workflow, image_digest=digest("retried"),
                               image_ref="127.0.0.1:5000/etl:retried", config={"name": "etl", "retries": 1})
    run = new_run(tenant_a)
    Run.objects.filter(pk=run.pk).update(version=version)
    with django_capture_on_commit_callbacks(execute=True):
        end(run, RunState.FAILED, RunReason.USER_ERROR)
    assert not NEW_ALERTS.filter(run=run).exists()
    retry = Run.objects.get(retry_of=run)
    with django_capture_on_commit_callbacks(execute=True):
        end(retry, RunState.FAILED, RunReason.USER_ERROR)
    assert NEW_ALERTS.filter(run=retry, event="run_failed").count() == 1


def test_the_first_success_after_a_failure_is_a_recovery_and_the_next_is_not(tenant_a, failure_rule,
                                                                           django_capture_on_commit_callbacks):
    failed, first, second = new_run(tenant_a), new_run(tenant_a), new_run(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        end(failed, RunState.TIMED_OUT, RunReason.TIMEOUT)
    with django_capture_on_commit_callbacks(execute=True):
        end(first, RunState.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        end(second, RunState.SUCCEEDED)
    assert list(NEW_ALERTS.values_list("run", "event").order_by("created_at")) == [
        (failed.pk, "run_failed"), (first.pk, "run_recovered")]
    assert "Recovered" in NEW_ALERTS.get(run=first).title


def test_a_rule_filtered_to_production_ignores_failures_in_test(tenant_a, hook_channel,
                                                                django_capture_on_commit_callbacks):
    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="prod-only", events=["run_failed"],
                         environments=["production"], channels=[hook_channel])
    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="reports", events=["run_failed"],
                         workflows=["report"], channels=[hook_channel])
    run = new_run(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        end(run, RunState.CRASHED, RunReason.WORKER_LOST)
    assert not NEW_ALERTS.exists()


def test_another_projects_failure_never_reaches_this_projects_channels(tenant_a, tenant_b, failure_rule,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        end(new_run(tenant_b), RunState.FAILED, RunReason.USER_ERROR)
    assert not NEW_ALERTS.exists()


def test_the_message_holds_the_last_log_lines_masked_with_the_environments_secrets(tenant_a, failure_rule,
                                                                                 django_capture_on_commit_callbacks):
    from controlplane.deployments.secrets import secret_set

    secret_set(actor=tenant_a.admin, environment=tenant_a.test_env, name="API_KEY", value="hunter2-very-secret")
    run = new_run(tenant_a)
    now = timezone.now()
    RunLogLine.objects.bulk_create(
        RunLogLine(run=run, seq=seq, at=now, message=f"line {seq}") for seq in range(1, 31))
    RunLogLine.objects.create(run=run, seq=31, at=now, message="token was hunter2-very-secret")
    with django_capture_on_commit_callbacks(execute=True):
        end(run, RunState.FAILED, RunReason.USER_ERROR)
    alert = NEW_ALERTS.get(run=run)
    assert "line 12" in alert.text and "line 11\n" not in alert.text, "the last 20 lines, not more"
    assert "hunter2-very-secret" not in alert.text and "hunter2-very-secret" not in str(alert.details)


def test_a_late_scheduled_run_raises_schedule_late(tenant_a, hook_channel):
    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="late", events=["schedule_late"],
                         channels=[hook_channel])
    run = new_run(tenant_a)
    Run.objects.filter(pk=run.pk).update(late_reason="no worker has picked up its launch yet")
    (alert,) = events.alerts_for_late_run(run.pk)
    assert alert.event == "schedule_late" and "no worker has picked up" in alert.text
    assert events.alerts_for_late_run(run.pk) == []


def test_a_run_longer_than_the_threshold_raises_run_long_once(tenant_a, hook_channel):
    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="long", events=["run_long"],
                         run_long_seconds=600, channels=[hook_channel])
    run = new_run(tenant_a)
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING, started_at=timezone.now() - timedelta(seconds=500))
    assert events.alerts_for_long_runs() == []
    (alert,) = events.alerts_for_long_runs(now=timezone.now() + timedelta(seconds=200))
    assert alert.event == "run_long" and alert.run_id == run.pk
    assert events.alerts_for_long_runs(now=timezone.now() + timedelta(seconds=300)) == []


def test_run_long_by_p95_needs_five_successful_runs_and_uses_their_p95(tenant_a, hook_channel):
    rule = services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="p95", events=["run_long"],
                                run_long_p95_factor=2.0, channels=[hook_channel])
    now = timezone.now()
    running = new_run(tenant_a)
    Run.objects.filter(pk=running.pk).update(state=RunState.RUNNING, started_at=now)
    assert events.long_run_threshold(rule, Run.objects.get(pk=running.pk)) is None
    for index, seconds in enumerate((10, 10, 10, 10, 10)):
        done = new_run(tenant_a)
        Run.objects.filter(pk=done.pk).update(state=RunState.SUCCEEDED, started_at=now - timedelta(seconds=seconds),
                                              ended_at=now)
        expected = None if index < 4 else pytest.approx(20.0)
        assert events.long_run_threshold(rule, Run.objects.get(pk=running.pk)) == expected


def test_promotions_raise_pending_then_decided(tenant_a, hook_channel, django_capture_on_commit_callbacks):
    from controlplane.deployments import services as deployments

    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="promotions",
                         events=["promotion_pending", "promotion_decided"], channels=[hook_channel])
    promotion = tenant_a.promotion
    with django_capture_on_commit_callbacks(execute=True):
        deployments.promotion_reject(actor=tenant_a.admin, promotion=promotion, comment="not now")
    (decided,) = NEW_ALERTS.filter(event="promotion_decided")
    assert "rejected" in decided.title and decided.subject == f"decided:{promotion.pk}"
    (pending,) = events.alerts_for_promotion(promotion.pk, "promotion_pending")
    assert "Approval needed" in pending.title


def test_a_budget_crossing_raises_budget_80_once(tenant_a, hook_channel):
    from controlplane.costs.signals import budget_crossed

    services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="budget", events=["budget_80"],
                         channels=[hook_channel])
    for _ in range(2):
        budget_crossed.send(sender=None, project=tenant_a.project, threshold=80, period="2026-12",
                            spent=Decimal("80.50"), budget=Decimal("100"), currency="USD")
    (alert,) = NEW_ALERTS.all()
    assert alert.event == "budget_80" and "80.50 of 100.00 USD" in alert.title
    budget_crossed.send(sender=None, project=tenant_a.project, threshold=100, period="2026-12",
                        spent=Decimal("101"), budget=Decimal("100"), currency="USD")
    assert NEW_ALERTS.count() == 1, "the rule does not listen to budget_100"


def test_a_disabled_rule_or_channel_sends_nothing(tenant_a, failure_rule, hook_channel,
                                                  django_capture_on_commit_callbacks):
    services.channel_update(actor=tenant_a.admin, channel=hook_channel, is_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        end(new_run(tenant_a), RunState.FAILED, RunReason.USER_ERROR)
    assert NEW_ALERTS.count() == 1 and not NEW_DELIVERIES.exists()
    services.rule_update(actor=tenant_a.admin, rule=failure_rule, is_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        end(new_run(tenant_a), RunState.FAILED, RunReason.USER_ERROR)
    assert NEW_ALERTS.count() == 1
