"""Project budgets: setting one, and recording each crossing of 80 % and 100 % once per month.

A crossing is a row with a unique (project, period, threshold), so however many runs end at once it is recorded,
and `budget_crossed` sent, exactly once; the signal goes out after the recording transaction commits.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from controlplane.core.audit import audit_record, snapshot
from controlplane.costs.models import BudgetCrossing, ProjectBudget, RunCost
from controlplane.costs.models.budgets import THRESHOLDS
from controlplane.costs.pricing import AMOUNT_QUANTUM
from controlplane.costs.signals import budget_crossed

logger = logging.getLogger(__name__)


def period_of(day: datetime.date) -> str:
    """The month `day` falls in, as "YYYY-MM"."""
    return f"{day.year:04d}-{day.month:02d}"


def current_period() -> str:
    """The current UTC month, as "YYYY-MM"."""
    return period_of(timezone.now().astimezone(datetime.UTC).date())


def period_bounds(period: str) -> tuple[datetime.date, datetime.date]:
    """The first day of the month `period` and the first day of the next one."""
    year, month = (int(part) for part in period.split("-"))
    first = datetime.date(year, month, 1)
    return first, datetime.date(year + month // 12, month % 12 + 1, 1)


def month_spent(*, project_id: Any, period: str) -> Decimal:
    """What the project's runs that ended in `period` cost."""
    first, after = period_bounds(period)
    total = RunCost.objects.filter(project_id=project_id, day__gte=first, day__lt=after).aggregate(total=Sum("amount"))
    return (total["total"] or Decimal(0)).quantize(AMOUNT_QUANTUM)  # SQLite sums decimals as floats


def _announce(crossing: BudgetCrossing) -> None:
    for receiver, result in budget_crossed.send_robust(
        sender=BudgetCrossing, project=crossing.project, threshold=crossing.threshold, period=crossing.period,
        spent=crossing.spent, budget=crossing.budget, currency=crossing.currency,
    ):
        if isinstance(result, Exception):
            logger.error("budget crossing %s: %s failed", crossing.pk, getattr(receiver, "__qualname__", receiver),
                         exc_info=result)


def budget_check(*, project_id: Any, period: str) -> list[BudgetCrossing]:
    """Record the thresholds the project's spending in `period` has reached for the first time; the new ones."""
    budget = ProjectBudget.objects.select_related("project").filter(project_id=project_id).first()
    if budget is None:
        return []  # most projects: one query, no transaction
    return _crossings_record(budget, period)


@transaction.atomic
def _crossings_record(budget: ProjectBudget, period: str) -> list[BudgetCrossing]:
    """The thresholds of `budget` its project's spending in `period` reached for the first time, recorded."""
    project_id = budget.project_id
    spent = month_spent(project_id=project_id, period=period)
    created = []
    for threshold in THRESHOLDS:
        if spent * 100 < budget.monthly_amount * threshold:
            break
        crossing, is_new = BudgetCrossing.objects.get_or_create(
            project=budget.project, period=period, threshold=threshold,
            defaults={"spent": spent, "budget": budget.monthly_amount, "currency": budget.currency},
        )
        if is_new:
            created.append(crossing)
            transaction.on_commit(lambda crossing=crossing: _announce(crossing))
    return created


@transaction.atomic
def budget_set(*, actor: Any, project: Any, monthly_amount: Decimal | None, currency: str = "USD") -> ProjectBudget | None:
    """Give the project a monthly budget (None removes it); this month's spending is checked against it at once."""
    existing = ProjectBudget.objects.select_for_update().filter(project=project).first()
    before = snapshot(existing)
    if monthly_amount is None:
        if existing is not None:
            existing.delete()
            audit_record(actor=actor, action="budget.removed", obj=project, before=before, project=project)
        else:
            audit_record(actor=actor, action="budget.removed", obj=project, project=project)
        return None
    budget = existing or ProjectBudget(project=project)
    budget.monthly_amount, budget.currency = monthly_amount.quantize(Decimal("0.01")), currency
    budget.save()
    audit_record(actor=actor, action="budget.set", obj=budget, before=before, after=snapshot(budget), project=project)
    budget_check(project_id=project.pk, period=current_period())
    return budget
