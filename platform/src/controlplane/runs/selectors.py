"""Reads of runs, task runs and log lines, scoped to the user's projects."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.tenancy.selectors import project_list


def run_list(*, user: object) -> QuerySet[Run]:
    """Runs of the projects the user can see, newest first."""
    return Run.objects.filter(deployment__environment__project__in=project_list(user=user)).select_related(
        "deployment__workflow", "deployment__environment__project", "version"
    )


def task_run_list(*, run: Run) -> QuerySet[TaskRun]:
    """Task runs of a run the caller has already fetched through `run_list`."""
    return TaskRun.objects.filter(run=run)


def log_line_list(*, run: Run, after: int = 0, limit: int = 500) -> list[RunLogLine]:
    """Log lines of a run with a sequence number above `after`, in order."""
    return list(RunLogLine.objects.filter(run=run, seq__gt=after).order_by("seq")[:limit])
