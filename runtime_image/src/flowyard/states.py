"""The state enums of runs and tasks, from the shared contract (`flowyard_spec.states`, stdlib only)."""

from __future__ import annotations

from flowyard_spec.states import TERMINAL_TASK_STATES, RunReason, RunState, TaskState

__all__ = ["TERMINAL_TASK_STATES", "RunReason", "RunState", "TaskState"]
