"""Prometheus metrics: GET /metrics, read from the database at scrape time (docs/metrics.md).

Every number comes from the database when Prometheus scrapes, not from counters kept in a process, so the web
server and every worker answer the same and nothing is lost on a restart. Labels are bounded: project slug,
environment name, run state and runtime target name, never a run id. A scrape costs four aggregate queries.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from controlplane.runs.models import Run, RunLogLine
from flowyard_spec.states import ACTIVE_RUN_STATES, TERMINAL_RUN_STATES, RunState, TriggerKind

# Upper bounds (seconds) of the run duration histogram's buckets; +Inf is added.
DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600)
# A scheduled run is waiting for its start while in one of these states.
_WAITING_STATES = (RunState.SCHEDULED, RunState.QUEUED, RunState.STARTING)
_PROJECT = "deployment__environment__project__slug"
_ENVIRONMENT = "deployment__environment__name"


class FlowyardCollector:
    """Reads the runs' aggregates from the database on every collect (a custom prometheus_client collector)."""

    def collect(self) -> Iterator[Metric]:
        """Yield every Flowyard metric family, from four aggregate queries."""
        yield from self._runs()
        yield self._durations()
        yield self._log_lines()
        yield self._lateness()

    def _runs(self) -> Iterator[Metric]:
        started = CounterMetricFamily(
            "flowyard_runs_started", "Runs created (kept in the database), by project and environment.",
            labels=["project", "environment"])
        finished = CounterMetricFamily(
            "flowyard_runs_finished", "Runs that reached a terminal state, by project, environment and state.",
            labels=["project", "environment", "state"])
        active = GaugeMetricFamily(
            "flowyard_runs_active", "Runs not yet in a terminal state, by project and runtime target "
            "(empty until launched).", labels=["project", "runtime_target"])
        started_counts: dict[tuple[str, str], int] = defaultdict(int)
        finished_counts: dict[tuple[str, str, str], int] = defaultdict(int)
        active_counts: dict[tuple[str, str], int] = defaultdict(int)
        rows = (Run.objects.order_by().values_list(_PROJECT, _ENVIRONMENT, "state", "runtime_target__name")
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
        yield from (started, finished, active)

    def _durations(self) -> Metric:
        family = HistogramMetricFamily(
            "flowyard_run_duration_seconds", "From start to end of the runs that ended, by project.",
            labels=["project"])
        duration = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
        buckets = {f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
                   for i, bound in enumerate(DURATION_BUCKETS)}
        rows = (Run.objects.order_by()
                .filter(state__in=TERMINAL_RUN_STATES, started_at__isnull=False, ended_at__isnull=False)
                .annotate(duration=duration).values(_PROJECT)
                .annotate(count=Count("id"), total=Sum("duration"), **buckets))
        for row in sorted(rows, key=lambda row: row[_PROJECT]):
            cumulative = [(_bound(bound), row[f"le_{i}"]) for i, bound in enumerate(DURATION_BUCKETS)]
            total = row["total"]
            family.add_metric(
                [row[_PROJECT]], [*cumulative, ("+Inf", row["count"])],
                sum_value=max(0.0, total.total_seconds() if isinstance(total, timedelta) else (total or 0) / 1e6))
        return family

    def _log_lines(self) -> Metric:
        family = CounterMetricFamily("flowyard_log_lines", "Run log lines kept, by project.", labels=["project"])
        rows = (RunLogLine.objects.order_by().values_list(f"run__{_PROJECT}").annotate(n=Count("id")))
        for project, n in sorted(rows):
            family.add_metric([project], n)
        return family

    def _lateness(self) -> Metric:
        family = GaugeMetricFamily(
            "flowyard_schedule_lateness_seconds", "How long ago the oldest due schedule tick whose run has not "
            "started yet was, by project (absent: none is waiting).", labels=["project"])
        now = timezone.now()
        rows = (Run.objects.order_by()
                .filter(trigger=TriggerKind.SCHEDULE, state__in=_WAITING_STATES, scheduled_for__lte=now)
                .values_list(_PROJECT).annotate(oldest=Min("scheduled_for")))
        for project, oldest in sorted(rows):
            family.add_metric([project], max(0.0, (now - oldest).total_seconds()))
        return family


def _bound(bound: float) -> str:
    return f"{float(bound)}"


registry = CollectorRegistry(auto_describe=False)
registry.register(FlowyardCollector())


def _authorized(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the refusal (401 wrong token, 403 not loopback)."""
    token = settings.FLOWYARD.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse("A valid metrics token is needed: Authorization: Bearer <token>.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="flowyard-metrics"'
        return response
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return HttpResponse("Metrics are served to loopback only; set FLOWYARD_METRICS_TOKEN to scrape from elsewhere.\n",
                        status=403, content_type="text/plain; charset=utf-8")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in the Prometheus text format, for a holder of the metrics token (or loopback, without one)."""
    refusal = _authorized(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [path("metrics", metrics_view, name="metrics")]
