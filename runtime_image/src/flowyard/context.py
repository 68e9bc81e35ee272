"""The flow run and task run the current code belongs to, carried by contextvars across threads."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from flowyard.protocols import ActiveFlowRun, TaskRunView

flow_run_var: ContextVar[ActiveFlowRun[Any] | None] = ContextVar("flowyard_flow_run", default=None)
task_run_var: ContextVar[TaskRunView | None] = ContextVar("flowyard_task_run", default=None)


def current_flow_run() -> ActiveFlowRun[Any] | None:
    """The flow run being executed by this code, or None outside a flow."""
    return flow_run_var.get()


def current_task_run() -> TaskRunView | None:
    """The task run being executed by this code, or None outside a task."""
    return task_run_var.get()


def current_task_key() -> str | None:
    """The key (`name-n`) of the task run being executed, or None."""
    task_run = task_run_var.get()
    return None if task_run is None else task_run.key
