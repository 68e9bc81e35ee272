"""Celery tasks of the alerts app: they take ids, re-read the rows, and do nothing when sent twice."""

from __future__ import annotations

from celery import shared_task

from controlplane.alerts.delivery import deliveries_sweep, delivery_attempt, digest_send
from controlplane.alerts.events import alerts_for_long_runs


@shared_task(name="controlplane.alerts.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> None:
    """One attempt of a delivery (a failed one enqueues its retry with backoff)."""
    delivery_attempt(delivery_id)


@shared_task(name="controlplane.alerts.tasks.send_digest", ignore_result=True)
def send_digest(channel_id: str) -> None:
    """Fold a channel's held deliveries into one digest, when it is due."""
    digest_send(channel_id)


@shared_task(name="controlplane.alerts.tasks.check_long_runs", ignore_result=True)
def check_long_runs() -> None:
    """Every minute: run_long alerts, and deliveries or digests a lost message left behind."""
    alerts_for_long_runs()
    deliveries_sweep()
