"""Sending a Celery task by name once a write has committed: a broker outage is logged with what catches up later,
never raised (the request that caused it already committed). Writers name tasks, so they never import them."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)


def enqueue(task_name: str, object_id: Any, *, fallback: str, countdown: float = 0.0, queue: str | None = None) -> None:
    """Send `task_name` for `object_id` (after `countdown` seconds, on `queue` or the default one); on a broker
    outage log it, saying what catches up (`fallback`).

    Call it from `transaction.on_commit`: the task re-reads the object, which must be committed by then.
    """
    options: dict[str, Any] = {"countdown": max(0.0, countdown) or None}
    if queue:
        options["queue"] = queue
    try:
        current_app.send_task(task_name, args=[str(object_id)], **options)
    except Exception:  # noqa: BLE001 - a broker outage must not fail what already committed
        logger.exception("could not enqueue %s for %s; %s", task_name, object_id, fallback)
