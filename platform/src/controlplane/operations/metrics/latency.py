"""Run duration, queue time (launch latency) and schedule start delay histograms: one query over started runs."""

from __future__ import annotations

from django.db.models import Q
from prometheus_client.core import HistogramMetricFamily

from controlplane.operations.metrics.families import PROJECT, Family, Histogram, Source
from controlplane.runs.models import Run
from flowyard_spec.states import TERMINAL_RUN_STATES, TriggerKind

# Upper bounds (seconds) of the buckets; +Inf is added.
DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600)
START_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 900)

_DURATION = Histogram("duration", "started_at", "ended_at", Q(state__in=TERMINAL_RUN_STATES), DURATION_BUCKETS)
_QUEUE = Histogram("queue", "created_at", "started_at", Q(), START_BUCKETS)
_SCHEDULE = Histogram("schedule", "scheduled_for", "started_at", Q(trigger=TriggerKind.SCHEDULE), START_BUCKETS)
_HISTOGRAMS = (_DURATION, _QUEUE, _SCHEDULE)


def _fill(duration: HistogramMetricFamily, queue: HistogramMetricFamily, schedule: HistogramMetricFamily) -> None:
    aggregates = {name: aggregate for histogram in _HISTOGRAMS for name, aggregate in histogram.aggregates().items()}
    rows = Run.objects.order_by().filter(started_at__isnull=False).values(PROJECT).annotate(**aggregates)
    for row in sorted(rows, key=lambda row: row[PROJECT]):
        for histogram, family in zip(_HISTOGRAMS, (duration, queue, schedule), strict=True):
            if row[f"{histogram.key}_count"]:
                histogram.add(family, [row[PROJECT]], row)


LATENCY = Source(
    families=(
        Family("flowyard_run_duration_seconds", "histogram", "From start to end of the runs that ended, by project.",
               ("project",)),
        Family("flowyard_run_queue_seconds", "histogram",
               "Launch latency: from a run's creation to its start as the runner reported it, by project.",
               ("project",)),
        Family("flowyard_schedule_start_delay_seconds", "histogram",
               "From a scheduled run's tick to its start as the runner reported it, by project.", ("project",)),
    ),
    fill=_fill, queries=1,
)
