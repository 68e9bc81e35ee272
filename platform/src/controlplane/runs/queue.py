"""Sending run tasks to the broker by name, so that writers never import the tasks (which import them)."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)

LAUNCH_RUN = "controlplane.runs.tasks.launch_run"
CANCEL_RUN = "controlplane.runs.tasks.cancel_run"
REMOVE_RESULT_STORES = "controlplane.runs.tasks.remove_result_stores"


def enqueue(task_name: str, object_id: Any, *, fallback: str) -> None:
    """Send the task `task_name` for `object_id`; a broker outage is only logged, with what catches up (`fallback`).

    Call it from `transaction.on_commit`: the task re-reads the object, which must be committed by then.
    """
    try:
        current_app.send_task(task_name, args=[str(object_id)])
    except Exception:  # noqa: BLE001 - a broker outage must not fail the request that already committed
        logger.exception("could not enqueue %s for %s; %s", task_name, object_id, fallback)


def enqueue_run_task(task_name: str, run_id: Any) -> None:
    """Send the run task `task_name` for `run_id`; on a broker outage the reconciler catches up."""
    enqueue(task_name, run_id, fallback="the reconciler will pick it up")
