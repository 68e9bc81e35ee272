"""Deliveries go to FLOWYARD_ALERT_QUEUE when it is set, so a worker of their own can take them (the session's Redis)."""

from __future__ import annotations

import json
import uuid

import redis
from kombu.transport.redis import Channel

from controlplane.alerts.queue import DELIVER, enqueue_delivery


def test_a_delivery_is_sent_to_the_alert_queue_when_one_is_set(settings):
    name = f"{settings.FLOWYARD.task_queue}-alerts-{uuid.uuid4().hex[:8]}"
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"alert_queue": name})
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        enqueue_delivery("0b9d1f8e-0000-4000-8000-000000000001")
        (raw,) = client.lrange(name, 0, -1)
        message = json.loads(raw)
        assert message["headers"]["task"] == DELIVER
        assert message["headers"]["argsrepr"] == "['0b9d1f8e-0000-4000-8000-000000000001']"
    finally:
        client.delete(name, *(f"{name}{Channel.sep}{step}" for step in Channel.priority_steps if step),
                      f"_kombu.binding.{name}")
        client.close()
