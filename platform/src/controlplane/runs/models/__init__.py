"""Run models."""

from controlplane.runs.models.runs import Run, RunLogLine, TaskRun

__all__ = ["Run", "RunLogLine", "TaskRun"]
