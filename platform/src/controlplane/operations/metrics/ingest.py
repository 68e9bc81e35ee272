"""What the runners reported and the control plane stored: log lines, task runs and their attempts (two queries).

These count rows in the database, not requests: a replayed report stores nothing new and counts nothing.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Sum
from prometheus_client.core import Metric

from controlplane.operations.metrics.families import PROJECT, Family, Source
from controlplane.runs.models import RunLogLine, TaskRun
from flowyard_spec.states import TERMINAL_TASK_STATES


def _fill_log_lines(lines: Metric) -> None:
    rows = RunLogLine.objects.order_by().values_list(f"run__{PROJECT}").annotate(n=Count("id"))
    for project, n in sorted(rows):
        lines.add_metric([project], n)


def _fill_task_runs(task_runs: Metric, attempts: Metric, finished: Metric) -> None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ended: dict[tuple[str, str], int] = {}
    rows = (TaskRun.objects.order_by().values_list(f"run__{PROJECT}", "state")
            .annotate(n=Count("id"), attempts=Sum("attempt")))
    for project, state, n, attempt_sum in rows:
        totals[project][0] += n
        totals[project][1] += attempt_sum or 0
        if state in TERMINAL_TASK_STATES:
            ended[project, state] = n
    for project, (n, attempt_sum) in sorted(totals.items()):
        task_runs.add_metric([project], n)
        attempts.add_metric([project], attempt_sum)
    for labels, n in sorted(ended.items()):
        finished.add_metric(list(labels), n)


LOG_LINES = Source(
    families=(Family("flowyard_log_lines", "counter", "Run log lines kept, by project.", ("project",)),),
    fill=_fill_log_lines, queries=1,
)

TASK_RUNS = Source(
    families=(
        Family("flowyard_task_runs", "counter", "Task runs the runners reported (stored rows), by project.",
               ("project",)),
        Family("flowyard_task_attempts", "counter",
               "Task attempts the runners reported (each task run's latest attempt number, summed), by project.",
               ("project",)),
        Family("flowyard_task_runs_finished", "counter",
               "Task runs whose latest attempt ended, by project and terminal task state.", ("project", "state")),
    ),
    fill=_fill_task_runs, queries=1,
)
