"""The collector on the metrics' private registry: every source's families, read at scrape time.

To add a family: write a module beside this one with a `Source` (families.py: the declared `Family`s, a `fill`
that adds their samples, the queries it costs) and put it in SOURCES.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from controlplane.operations.metrics.alerts import ALERT_DELIVERIES
from controlplane.operations.metrics.broker import BROKER
from controlplane.operations.metrics.families import Family, Source
from controlplane.operations.metrics.ingest import LOG_LINES, TASK_RUNS
from controlplane.operations.metrics.latency import LATENCY
from controlplane.operations.metrics.runs import LATENESS, RUNS

# In the order they appear in a scrape. A source reading the database costs its declared `queries` per scrape.
SOURCES: tuple[Source, ...] = (RUNS, LATENCY, LATENESS, TASK_RUNS, LOG_LINES, ALERT_DELIVERIES, BROKER)


class FlowyardCollector:
    """Reads every source on each collect (a custom prometheus_client collector); describe() reads nothing."""

    def __init__(self, sources: tuple[Source, ...] = SOURCES) -> None:
        self.sources = sources

    @property
    def families(self) -> tuple[Family, ...]:
        """Every declared family, in scrape order."""
        return tuple(family for source in self.sources for family in source.families)

    @property
    def queries(self) -> int:
        """The database queries one scrape costs, however many rows there are."""
        return sum(source.queries for source in self.sources)

    def describe(self) -> Iterator[Metric]:
        """Every family, empty: what a scrape may hold, without touching the database or the broker."""
        return (family.new() for family in self.families)

    def collect(self) -> Iterator[Metric]:
        """Every family with its samples, source after source."""
        for source in self.sources:
            metrics = [family.new() for family in source.families]
            source.fill(*metrics)
            yield from metrics


collector = FlowyardCollector()
registry = CollectorRegistry(auto_describe=False)
registry.register(collector)
