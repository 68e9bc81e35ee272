"""Run models."""

from controlplane.runs.models.cache import TaskCacheRecord
from controlplane.runs.models.runs import Run, RunLogLine, TaskRun

__all__ = ["Run", "RunLogLine", "TaskCacheRecord", "TaskRun"]
