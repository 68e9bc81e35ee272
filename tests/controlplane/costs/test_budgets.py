"""A project's budget alerts once at 80 % and once at 100 % of a month's costs, after the crossing commits."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from controlplane.costs import budgets
from controlplane.costs.models import BudgetCrossing, ProjectBudget
from controlplane.costs.signals import budget_crossed

# 4 vCPU and 16 GiB on Fargate cost 0.23304 dollars an hour.
BIG = {"cpu": 4096, "memory": 16384}


@pytest.fixture
def heard():
    """Every budget_crossed sent while the test runs, as (threshold, period, spent, budget, currency, project)."""
    calls: list[tuple] = []

    def listen(sender, project, threshold, period, spent, budget, currency, **kwargs):
        calls.append((threshold, period, spent, budget, currency, project))

    budget_crossed.connect(listen, dispatch_uid="test-budgets-heard")
    yield calls
    budget_crossed.disconnect(dispatch_uid="test-budgets-heard")


@pytest.fixture
def one_dollar(tenant_a):
    """Tenant A's project has a budget of $1.00 a month."""
    return ProjectBudget.objects.create(project=tenant_a.project, monthly_amount=Decimal("1.00"))


def test_the_budget_alerts_once_at_80_and_once_at_100_percent(tenant_a, fargate, finish_run, one_dollar, heard):
    finish_run(tenant_a, fargate, **BIG, seconds=3.5 * 3600)  # 0.81564: 81.6 %
    assert [call[:5] for call in heard] == [(80, "2026-03", Decimal("0.81564"), Decimal("1.00"), "USD")]
    assert heard[0][5] == tenant_a.project
    finish_run(tenant_a, fargate, **BIG, seconds=0.25 * 3600)  # + 0.05826 = 0.8739: still between 80 and 100 %
    assert len(heard) == 1, "a second run in the 80–100 % band does not alert again"
    finish_run(tenant_a, fargate, **BIG, seconds=0.6 * 3600)  # + 0.139824 = 1.013724: over 100 %
    assert [call[:3] for call in heard] == [(80, "2026-03", Decimal("0.81564")), (100, "2026-03", Decimal("1.013724"))]
    finish_run(tenant_a, fargate, **BIG, seconds=3600)
    assert len(heard) == 2, "over 100 % nothing more is sent this month"
    crossings = BudgetCrossing.objects.filter(project=tenant_a.project).order_by("threshold")
    assert [(c.period, c.threshold, c.spent, c.budget) for c in crossings] == [
        ("2026-03", 80, Decimal("0.81564"), Decimal("1.00")), ("2026-03", 100, Decimal("1.013724"), Decimal("1.00"))]


def test_one_run_that_jumps_past_100_percent_alerts_80_and_100_together(tenant_a, fargate, finish_run, one_dollar, heard):
    finish_run(tenant_a, fargate, **BIG, seconds=5 * 3600)  # 1.1652
    assert [call[0] for call in heard] == [80, 100]


def test_each_month_alerts_on_its_own(tenant_a, fargate, finish_run, one_dollar, heard):
    finish_run(tenant_a, fargate, **BIG, seconds=4 * 3600, started_at=datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC))
    finish_run(tenant_a, fargate, **BIG, seconds=4 * 3600, started_at=datetime.datetime(2026, 4, 2, tzinfo=datetime.UTC))
    assert [(call[0], call[1]) for call in heard] == [(80, "2026-03"), (80, "2026-04")]


def test_a_project_without_a_budget_never_alerts_and_other_projects_spending_does_not_count(
    tenant_a, tenant_b, fargate, finish_run, one_dollar, heard
):
    finish_run(tenant_b, fargate, **BIG, seconds=10 * 3600)
    assert heard == [] and not BudgetCrossing.objects.exists()


def test_checking_again_records_and_sends_nothing_new(tenant_a, fargate, finish_run, one_dollar, heard,
                                                      django_capture_on_commit_callbacks):
    finish_run(tenant_a, fargate, **BIG, seconds=3.5 * 3600)
    with django_capture_on_commit_callbacks(execute=True):
        assert budgets.budget_check(project_id=tenant_a.project.pk, period="2026-03") == []
    assert len(heard) == 1 and BudgetCrossing.objects.count() == 1


def test_the_signal_is_sent_only_after_the_crossing_commits(tenant_a, fargate, finish_run, one_dollar, heard,
                                                           django_capture_on_commit_callbacks):
    ProjectBudget.objects.filter(pk=one_dollar.pk).update(monthly_amount=Decimal("1000"))
    finish_run(tenant_a, fargate, **BIG, seconds=3.5 * 3600)
    ProjectBudget.objects.filter(pk=one_dollar.pk).update(monthly_amount=Decimal("1"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert [c.threshold for c in budgets.budget_check(project_id=tenant_a.project.pk, period="2026-03")] == [80]
        assert heard == [], "nothing is sent inside the transaction"
    for callback in callbacks:
        callback()
    assert [call[0] for call in heard] == [80]


def test_setting_a_budget_below_this_months_spending_alerts_at_once_and_is_audited(
    tenant_a, fargate, finish_run, heard, django_capture_on_commit_callbacks
):
    from controlplane.core.models import AuditEvent
    from django.utils import timezone

    now = timezone.now().astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    finish_run(tenant_a, fargate, **BIG, seconds=3600, started_at=now - datetime.timedelta(hours=1))  # 0.23304
    with django_capture_on_commit_callbacks(execute=True):
        budget = budgets.budget_set(actor=tenant_a.admin, project=tenant_a.project, monthly_amount=Decimal("1"))
    assert budget.monthly_amount == Decimal("1.00")
    assert heard == [], "0.23 is 23 % of 1.00"
    with django_capture_on_commit_callbacks(execute=True):
        budgets.budget_set(actor=tenant_a.admin, project=tenant_a.project, monthly_amount=Decimal("0.25"))
    assert [call[0] for call in heard] == [80]
    assert AuditEvent.objects.filter(action="budget.set", project=tenant_a.project).count() == 2
    assert budgets.budget_set(actor=tenant_a.admin, project=tenant_a.project, monthly_amount=None) is None
    assert not ProjectBudget.objects.exists()
    assert AuditEvent.objects.filter(action="budget.removed", project=tenant_a.project).count() == 1


def test_periods_are_utc_months():
    assert budgets.period_of(datetime.date(2026, 12, 31)) == "2026-12"
    assert budgets.period_bounds("2026-12") == (datetime.date(2026, 12, 1), datetime.date(2027, 1, 1))
    assert budgets.period_bounds("2026-02") == (datetime.date(2026, 2, 1), datetime.date(2026, 3, 1))
