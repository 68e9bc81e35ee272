"""What every metrics module shares: declared families, the sources that fill them, histogram buckets from SQL.

A `Source` declares the families it yields (name, type, help, labels) and fills fresh, empty copies of them on
every collect. Declaring them up front gives the collector a truthful `describe()` without touching the
database, and lets tests (tests/deploy) check that every metric the dashboard and the alert rules use exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

# Lookups from a run to the labels every family uses (a project's slug, an environment's name).
PROJECT = "deployment__environment__project__slug"
ENVIRONMENT = "deployment__environment__name"

_KINDS = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily, "histogram": HistogramMetricFamily}


@dataclass(frozen=True)
class Family:
    """One metric family as declared: a counter's name is given without `_total` (prometheus_client adds it)."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    documentation: str
    labels: tuple[str, ...]

    def new(self) -> Metric:
        """An empty family of this shape, to add samples to."""
        return _KINDS[self.kind](self.name, self.documentation, labels=list(self.labels))

    @property
    def sample_names(self) -> frozenset[str]:
        """The names its samples have in the text format (`_total`; `_bucket`, `_count`, `_sum`)."""
        if self.kind == "counter":
            return frozenset({f"{self.name}_total"})
        if self.kind == "histogram":
            return frozenset({f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum"})
        return frozenset({self.name})


@dataclass(frozen=True)
class Source:
    """Families read together: `fill` gets one empty family per declared one, in order, and adds their samples.

    `queries` is how many database queries one fill costs, whatever the number of rows (tests hold the
    collector to the sum). A fill must not raise for an outside service being down (the broker): it says so
    in a family of its own instead, so a scrape never fails for it.
    """

    families: tuple[Family, ...]
    fill: Callable[..., None]
    queries: int


def bound(bound: float) -> str:
    """A bucket's upper bound as the `le` label shows it (`5.0`)."""
    return f"{float(bound)}"


def seconds(total: Any) -> float:
    """A sum of durations from the database in seconds: a timedelta, or microseconds (SQLite), or None."""
    if isinstance(total, timedelta):
        return total.total_seconds()
    return (total or 0) / 1e6


@dataclass(frozen=True)
class Histogram:
    """One histogram read from the database: `end - start` of the rows matching `where`, in `buckets` seconds."""

    key: str
    start: str
    end: str
    where: Q
    buckets: tuple[float, ...]

    def aggregates(self) -> dict[str, Any]:
        """The aggregates (count, sum, one count per bucket) to put in a grouped query's `annotate`."""
        duration = ExpressionWrapper(F(self.end) - F(self.start), output_field=DurationField())
        within = self.where & Q(**{f"{self.end}__isnull": False, f"{self.start}__isnull": False})
        aggregates: dict[str, Any] = {
            f"{self.key}_count": Count("id", filter=within),
            f"{self.key}_sum": Sum(duration, filter=within),
        }
        for i, upper in enumerate(self.buckets):
            aggregates[f"{self.key}_le_{i}"] = Count(
                "id", filter=within & Q(**{f"{self.end}__lte": F(self.start) + timedelta(seconds=upper)}))
        return aggregates

    def add(self, family: HistogramMetricFamily, labels: list[str], row: Mapping[str, Any]) -> None:
        """Add the series of one row of the grouped query (the sum is never below 0, whatever the clocks said)."""
        cumulative = [(bound(upper), row[f"{self.key}_le_{i}"]) for i, upper in enumerate(self.buckets)]
        family.add_metric(labels, [*cumulative, ("+Inf", row[f"{self.key}_count"])],
                          sum_value=max(0.0, seconds(row[f"{self.key}_sum"])))

