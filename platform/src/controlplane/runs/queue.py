"""Sending run tasks to the broker by name, so that writers never import the tasks (which import them)."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)

LAUNCH_RUN = "controlplane.runs.tasks.launch_run"
CANCEL_RUN = "controlplane.runs.tasks.cancel_run"


def enqueue_run_task(task_name: str, run_id: Any) -> None:
    """Send the run task `task_name` for `run_id`; a broker outage is only logged (the reconciler catches up).

    Call it from `transaction.on_commit`: the task re-reads the run, which must be committed by then.
    """
    try:
        current_app.send_task(task_name, args=[str(run_id)])
    except Exception:  # noqa: BLE001 - a broker outage must not fail the request that already committed
        logger.exception("could not enqueue %s for run %s; the reconciler will pick it up", task_name, run_id)
