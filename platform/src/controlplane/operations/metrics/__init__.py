"""Prometheus metrics: GET /metrics, read from the database (and the broker) at scrape time (docs/metrics.md).

Every number comes from the database when Prometheus scrapes, not from counters kept in a process, so the web
server and every worker answer the same and nothing is lost on a restart. Labels are bounded: project slug,
environment name, run or task state, runtime target name and queue name, never a run id. A scrape costs a
fixed handful of aggregate queries (`collector.queries`) and one broker round trip of at most a second.

One module per family group: runs (started, finished, active, lateness), latency (histograms), ingest (log
lines, task runs), broker (queue depth); collector.py lists them, views.py serves them.
"""

from controlplane.operations.metrics.collector import FlowyardCollector, collector, registry
from controlplane.operations.metrics.views import metrics_view, urlpatterns

__all__ = ["FlowyardCollector", "collector", "metrics_view", "registry", "urlpatterns"]
