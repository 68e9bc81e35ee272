"""Runs started, finished and active, and how late the oldest waiting schedule tick is: two queries."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import Metric

from controlplane.operations.metrics.families import ENVIRONMENT, PROJECT, Family, Source
from controlplane.runs.models import Run
from flowyard_spec.states import ACTIVE_RUN_STATES, TERMINAL_RUN_STATES, RunState, TriggerKind

# A scheduled run is waiting for its start while in one of these states.
_WAITING_STATES = (RunState.SCHEDULED, RunState.QUEUED, RunState.STARTING)


def _fill_runs(started: Metric, finished: Metric, active: Metric) -> None:
    started_counts: dict[tuple[str, str], int] = defaultdict(int)
    finished_counts: dict[tuple[str, str, str], int] = defaultdict(int)
    active_counts: dict[tuple[str, str], int] = defaultdict(int)
    rows = (Run.objects.order_by().values_list(PROJECT, ENVIRONMENT, "state", "runtime_target__name")
            .annotate(n=Count("id")))
    for project, environment, state, target, n in rows:
        started_counts[project, environment] += n
        if state in TERMINAL_RUN_STATES:
            finished_counts[project, environment, state] += n
        elif state in ACTIVE_RUN_STATES:
            active_counts[project, target or ""] += n
    for labels, n in sorted(started_counts.items()):
        started.add_metric(list(labels), n)
    for labels, n in sorted(finished_counts.items()):
        finished.add_metric(list(labels), n)
    for labels, n in sorted(active_counts.items()):
        active.add_metric(list(labels), n)


def _fill_lateness(lateness: Metric) -> None:
    now = timezone.now()
    rows = (Run.objects.order_by()
            .filter(trigger=TriggerKind.SCHEDULE, state__in=_WAITING_STATES, scheduled_for__lte=now)
            .values_list(PROJECT).annotate(oldest=Min("scheduled_for")))
    for project, oldest in sorted(rows):
        lateness.add_metric([project], max(0.0, (now - oldest).total_seconds()))


RUNS = Source(
    families=(
        Family("flowyard_runs_started", "counter", "Runs created (kept in the database), by project and environment.",
               ("project", "environment")),
        Family("flowyard_runs_finished", "counter",
               "Runs that reached a terminal state, by project, environment and state.",
               ("project", "environment", "state")),
        Family("flowyard_runs_active", "gauge",
               "Runs not yet in a terminal state, by project and runtime target (empty until launched).",
               ("project", "runtime_target")),
    ),
    fill=_fill_runs, queries=1,
)

LATENESS = Source(
    families=(
        Family("flowyard_schedule_lateness_seconds", "gauge",
               "How long ago the oldest due schedule tick whose run has not started yet was, by project "
               "(absent: none is waiting).", ("project",)),
    ),
    fill=_fill_lateness, queries=1,
)
