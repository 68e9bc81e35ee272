"""Receivers of the lower apps' signals (connected in apps.ready): each turns an event into alerts."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from controlplane.alerts import events
from controlplane.alerts.models import AlertEvent
from controlplane.costs.signals import budget_crossed
from controlplane.deployments.signals import promotion_decided, promotion_requested
from controlplane.runs.signals import run_ended
from controlplane.scheduling.signals import run_late


@receiver(run_ended, dispatch_uid="alerts.run_ended")
def on_run_ended(sender: Any, run_id: Any, run: Any = None, **kwargs: Any) -> None:
    """A run ended: run_failed or run_recovered."""
    events.alerts_for_run_end(run_id, run=run)


@receiver(run_late, dispatch_uid="alerts.run_late")
def on_run_late(sender: Any, run_id: Any, **kwargs: Any) -> None:
    """A scheduled run was marked late: schedule_late."""
    events.alerts_for_late_run(run_id)


@receiver(promotion_requested, dispatch_uid="alerts.promotion_requested")
def on_promotion_requested(sender: Any, promotion_id: Any, **kwargs: Any) -> None:
    """A promotion waits for approval: promotion_pending."""
    events.alerts_for_promotion(promotion_id, AlertEvent.PROMOTION_PENDING)


@receiver(promotion_decided, dispatch_uid="alerts.promotion_decided")
def on_promotion_decided(sender: Any, promotion_id: Any, **kwargs: Any) -> None:
    """A promotion was approved or rejected: promotion_decided."""
    events.alerts_for_promotion(promotion_id, AlertEvent.PROMOTION_DECIDED)


@receiver(budget_crossed, dispatch_uid="alerts.budget_crossed")
def on_budget_crossed(sender: Any, project: Any, threshold: int, period: str, spent: Any, budget: Any,
                      currency: str, **kwargs: Any) -> None:
    """A project's spending crossed 80 % or 100 % of its budget: budget_80 or budget_100."""
    events.alerts_for_budget(project=project, threshold=threshold, period=period, spent=spent, budget=budget,
                             currency=currency)
