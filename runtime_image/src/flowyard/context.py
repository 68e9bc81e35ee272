"""The flow run and task run the current code belongs to, carried by contextvars across threads."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowyard.flows import FlowRun
    from flowyard.futures import TaskFuture

flow_run_var: ContextVar["FlowRun | None"] = ContextVar("flowyard_flow_run", default=None)
task_run_var: ContextVar["TaskFuture | None"] = ContextVar("flowyard_task_run", default=None)


def current_flow_run() -> "FlowRun | None":
    """The flow run being executed by this code, or None outside a flow."""
    return flow_run_var.get()


def current_task_run() -> "TaskFuture | None":
    """The task run being executed by this code, or None outside a task."""
    return task_run_var.get()


def current_task_key() -> str | None:
    """The key (`name-n`) of the task run being executed, or None."""
    task_run = task_run_var.get()
    return None if task_run is None else task_run.key
