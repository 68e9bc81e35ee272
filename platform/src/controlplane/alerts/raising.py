"""Raising an alert: the project's enabled rules that listen to the event and match it each get one alert (once
per subject: a redelivered event finds it and sends nothing) with one delivery per enabled channel, enqueued on
commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from controlplane.alerts.messages import Message
from controlplane.alerts.models import Alert, Delivery, Rule
from controlplane.alerts.queue import enqueue_delivery

logger = logging.getLogger(__name__)


def matching_rules(*, project: Any, event: str, environment: str | None, workflow: str | None) -> list[Rule]:
    """The project's enabled rules that listen to `event` and whose filters let it through."""
    rules = Rule.objects.filter(project=project, is_enabled=True).prefetch_related("channels")
    return [rule for rule in rules if event in rule.events and rule.matches(environment=environment, workflow=workflow)]


def alert_raise(
    *, project: Any, event: str, subject: str, render: Callable[[], Message], environment: str | None = None,
    workflow: str | None = None, run: Any = None, rules: list[Rule] | None = None,
) -> list[Alert]:
    """Record one alert per matching rule for `subject` (skipping rules that already have it) and enqueue its
    deliveries; `render` is called only when some rule matches. Returns the alerts created now."""
    if rules is None:
        rules = matching_rules(project=project, event=event, environment=environment, workflow=workflow)
    if not rules:
        return []
    message = render()
    created = []
    for rule in rules:
        channels = [channel for channel in rule.channels.all() if channel.is_enabled]
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule, event=event, subject=subject, run=run, title=message.title[:300], text=message.text,
                    link=message.link, details=message.details,
                )
                deliveries = Delivery.objects.bulk_create(Delivery(alert=alert, channel=channel) for channel in channels)
                for delivery in deliveries:
                    transaction.on_commit(lambda delivery_id=delivery.pk: enqueue_delivery(delivery_id))
        except IntegrityError:  # this rule already alerted about this subject: the event came again
            logger.info("alert %s %s for rule %s exists already; nothing sent again", event, subject, rule.pk)
            continue
        created.append(alert)
    return created
