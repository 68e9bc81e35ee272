"""Sending delivery tasks to the broker by name (so services never import the tasks module)."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

DELIVER = "controlplane.alerts.tasks.deliver"
SEND_DIGEST = "controlplane.alerts.tasks.send_digest"


def enqueue_delivery(delivery_id: Any, *, countdown: float = 0) -> None:
    """Send the delivery task; a broker outage is only logged (the periodic sweep enqueues it again)."""
    _send(DELIVER, delivery_id, countdown)


def enqueue_digest(channel_id: Any, *, countdown: float = 0) -> None:
    """Send the digest task of a channel; a broker outage is only logged (the periodic sweep sends it)."""
    _send(SEND_DIGEST, channel_id, countdown)


def _send(task: str, object_id: Any, countdown: float) -> None:
    try:
        current_app.send_task(task, args=[str(object_id)], countdown=max(0.0, countdown) or None,
                              queue=settings.FLOWYARD.alert_queue or settings.FLOWYARD.task_queue)
    except Exception:  # noqa: BLE001 - a broker outage must not fail the run or request that raised the alert
        logger.exception("could not enqueue %s for %s; the periodic sweep will", task, object_id)
