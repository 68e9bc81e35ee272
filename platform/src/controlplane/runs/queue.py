"""Sending run tasks to the broker by name, so that writers never import the tasks (which import them)."""

from __future__ import annotations

from typing import Any

from controlplane.core.queue import enqueue

LAUNCH_RUN = "controlplane.runs.tasks.launch_run"
CANCEL_RUN = "controlplane.runs.tasks.cancel_run"
REMOVE_RESULT_STORES = "controlplane.runs.tasks.remove_result_stores"


def enqueue_run_task(task_name: str, run_id: Any) -> None:
    """Send the run task `task_name` for `run_id` (from `transaction.on_commit`); on a broker outage the reconciler
    catches up."""
    enqueue(task_name, run_id, fallback="the reconciler will pick it up")
