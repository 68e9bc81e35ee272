"""A budget crossing reaches the project's alert channels: one budget_80 message at 80 %, none again in the band."""

from __future__ import annotations

import json
from decimal import Decimal

from controlplane.alerts import services as alerts
from controlplane.alerts.delivery import delivery_attempt
from controlplane.alerts.models import Delivery
from controlplane.costs.models import ProjectBudget
from flowyard_testkit.alert_receivers import hook_receivers, verify_signature  # noqa: F401

BIG = {"cpu": 4096, "memory": 16384}  # 4 vCPU and 16 GiB on Fargate: 0.23304 dollars an hour


def test_the_budget_alert_is_sent_once_at_80_percent(tenant_a, fargate, finish_run, hook_receivers):  # noqa: F811
    receiver = hook_receivers()
    channel, secret = alerts.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="finance",
                                            kind="webhook", target=receiver.url)
    alerts.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="budget", events=["budget_80"],
                       channels=[channel])
    ProjectBudget.objects.create(project=tenant_a.project, monthly_amount=Decimal("1.00"))

    finish_run(tenant_a, fargate, **BIG, seconds=3.0 * 3600)  # 0.69912: 69.9 %, under
    assert not Delivery.objects.filter(channel=channel).exists()
    finish_run(tenant_a, fargate, **BIG, seconds=0.5 * 3600)  # + 0.11652 = 0.81564: 81.6 %
    finish_run(tenant_a, fargate, **BIG, seconds=0.25 * 3600)  # + 0.05826 = 0.8739: still in the band
    (delivery,) = Delivery.objects.filter(channel=channel)
    delivery_attempt(delivery.pk)

    (request,) = receiver.requests
    assert verify_signature(secret, request)
    body = json.loads(request.body)
    assert (body["event"], body["threshold"], body["spent"], body["budget"]) == ("budget_80", 80, "0.81564", "1")
    assert "spent 0.82 of 1.00 USD" in body["title"]
