"""Sending delivery tasks to the broker by name (so services never import the tasks module)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from controlplane.core.queue import enqueue

DELIVER = "controlplane.alerts.tasks.deliver"
SEND_DIGEST = "controlplane.alerts.tasks.send_digest"


def enqueue_delivery(delivery_id: Any, *, countdown: float = 0) -> None:
    """Send the delivery task; a broker outage is only logged (the periodic sweep enqueues it again)."""
    _send(DELIVER, delivery_id, countdown)


def enqueue_digest(channel_id: Any, *, countdown: float = 0) -> None:
    """Send the digest task of a channel; a broker outage is only logged (the periodic sweep sends it)."""
    _send(SEND_DIGEST, channel_id, countdown)


def _send(task: str, object_id: Any, countdown: float) -> None:
    enqueue(task, object_id, fallback="the periodic sweep will", countdown=countdown,
            queue=settings.FLOWYARD.alert_queue or settings.FLOWYARD.task_queue)
