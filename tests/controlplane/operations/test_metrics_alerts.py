"""GET /metrics counts alert deliveries by outcome once they reach one: pending and held ones are not counted."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from controlplane.alerts import services
from controlplane.alerts.models import Delivery, DeliveryState


def deliveries_metric() -> dict[tuple[str, str, str], float]:
    text = Client().get("/metrics").content.decode()
    return {(s.labels["project"], s.labels["channel_kind"], s.labels["outcome"]): s.value
            for family in text_string_to_metric_families(text) if family.name == "flowyard_alert_deliveries"
            for s in family.samples if s.name == "flowyard_alert_deliveries_total"}


def test_alert_deliveries_are_counted_by_project_channel_kind_and_outcome(tenant_a, tenant_b):
    hook, _ = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="hook", kind="webhook",
                                      target="http://127.0.0.1:9/hook")
    mail, _ = services.channel_create(actor=tenant_b.admin, project=tenant_b.project, name="mail", kind="email",
                                      target="oncall@example.org")
    for channel, state in [(hook, DeliveryState.SENT), (hook, DeliveryState.SENT), (hook, DeliveryState.FAILED),
                           (hook, DeliveryState.PENDING), (hook, DeliveryState.HELD), (mail, DeliveryState.DIGESTED)]:
        Delivery.objects.create(channel=channel, state=state)
    assert deliveries_metric() == {  # each tenant is seeded with one sent webhook delivery
        ("alpha-main", "webhook", "sent"): 3, ("alpha-main", "webhook", "failed"): 1,
        ("bravo-main", "webhook", "sent"): 1, ("bravo-main", "email", "digested"): 1,
    }
