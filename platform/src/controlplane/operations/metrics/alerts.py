"""Alert deliveries that reached an outcome (one query): sent, failed after every attempt, or folded into a digest.

Pending and held deliveries are left out, so the counter never goes down while a delivery moves on; each
outcome is final. A digest counts as one sent delivery of the channel.
"""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import Metric

from controlplane.alerts.models import Delivery, DeliveryState
from controlplane.operations.metrics.families import Family, Source

OUTCOMES = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.DIGESTED)


def _fill(deliveries: Metric) -> None:
    rows = (Delivery.objects.order_by().filter(state__in=OUTCOMES)
            .values_list("channel__project__slug", "channel__kind", "state").annotate(n=Count("id")))
    for project, kind, outcome, n in sorted(rows):
        deliveries.add_metric([project, kind, outcome], n)


ALERT_DELIVERIES = Source(
    families=(Family("flowyard_alert_deliveries", "counter",
                     "Alert deliveries that reached an outcome (sent, failed, digested), by project and channel kind.",
                     ("project", "channel_kind", "outcome")),),
    fill=_fill, queries=1,
)
