"""Receivers of the lower apps' signals (connected in apps.ready): a run that ended is priced, then its project's
budget is checked (in a transaction of its own, after the cost is committed)."""

from __future__ import annotations

from django.dispatch import receiver

from controlplane.costs import budgets, pricing
from controlplane.runs.models import Run
from controlplane.runs.signals import run_ended


@receiver(run_ended, sender=Run, dispatch_uid="costs.pricing.price_ended_run")
def price_ended_run(sender: type, run_id: object, run: Run | None = None, **kwargs: object) -> None:
    """Record what the run cost (once), then record and announce the budget thresholds its project crossed."""
    cost = pricing.run_cost_record(run_id=run_id, run=run)
    if cost is not None:
        budgets.budget_check(project_id=cost.project_id, period=budgets.period_of(cost.day))
