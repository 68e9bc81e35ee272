"""flowyard_celery_queue_depth and flowyard_broker_up: the session's real Redis, the filesystem broker, a dead one."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import redis
from django.test import Client
from kombu import Connection, Exchange, Queue
from kombu.transport.redis import Channel
from prometheus_client.parser import text_string_to_metric_families

from controlplane.operations.metrics.broker import BROKER_SECONDS
from flowyard_testkit.ports import free_port


def scrape() -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200, response.content
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def publish(url: str, name: str, count: int, transport_options: dict | None = None, priority: int | None = None):
    """`count` Celery-like messages on the queue `name`, through kombu as Celery sends them."""
    queue = Queue(name, Exchange(name, "direct"), routing_key=name)
    with Connection(url, transport_options=transport_options or {}) as connection:
        producer = connection.Producer()
        for i in range(count):
            producer.publish({"i": i}, exchange=queue.exchange, routing_key=name, declare=[queue], priority=priority)


@pytest.fixture
def own_queue(settings):
    """A queue of this test's own on the session's Redis broker, made the task queue; deleted afterwards."""
    name = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-metrics-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    yield name
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(name, *(f"{name}{Channel.sep}{step}" for step in Channel.priority_steps if step),
                  f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    client.close()


def test_queue_depth_counts_the_messages_waiting_in_redis_priority_queues_too(settings, own_queue):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert scrape()[("flowyard_celery_queue_depth", (("queue", own_queue),))] == 0
    publish(settings.CELERY_BROKER_URL, own_queue, 3)
    publish(settings.CELERY_BROKER_URL, own_queue, 2, priority=9)  # kombu's sub-queue `<queue>\x06\x169`
    samples = scrape()
    assert samples[("flowyard_celery_queue_depth", (("queue", own_queue),))] == 5
    assert samples[("flowyard_broker_up", ())] == 1
    with Connection(settings.CELERY_BROKER_URL) as connection:
        Queue(own_queue, Exchange(own_queue, "direct"), routing_key=own_queue)(connection.default_channel).purge()
    assert scrape()[("flowyard_celery_queue_depth", (("queue", own_queue),))] == 0


def test_the_scheduler_queue_is_measured_too(settings, own_queue):
    scheduler = f"{own_queue}-scheduler"
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"scheduler_queue": scheduler})
    samples = scrape()
    assert {labels for name, labels in samples if name == "flowyard_celery_queue_depth"} == {
        (("queue", own_queue),), (("queue", scheduler),)}


def test_queue_depth_of_the_embedded_filesystem_broker(settings, tmp_path):
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "broker"
    (folder / "control").mkdir(parents=True)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder / "control")}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    publish("filesystem://", name, 4, options)
    publish("filesystem://", f"{name}-other", 2, options)  # another queue's messages are not this one's
    samples = scrape()
    assert samples[("flowyard_celery_queue_depth", (("queue", name),))] == 4
    assert samples[("flowyard_broker_up", ())] == 1



def test_a_broker_that_refuses_is_down_and_the_scrape_still_answers(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    samples = scrape()
    assert samples[("flowyard_broker_up", ())] == 0
    assert not [key for key in samples if key[0] == "flowyard_celery_queue_depth"]


def test_a_broker_that_never_answers_costs_the_scrape_at_most_a_second(settings):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        began = time.monotonic()
        samples = scrape()
        took = time.monotonic() - began
    assert samples[("flowyard_broker_up", ())] == 0
    assert BROKER_SECONDS <= took < BROKER_SECONDS + 1.5
    assert not [key for key in samples if key[0] == "flowyard_celery_queue_depth"]
