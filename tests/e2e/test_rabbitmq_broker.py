"""The same loop with RabbitMQ as the broker (the machine's, on 127.0.0.1:5672): a triggered run is launched by a
worker that reads its queue over AMQP and ends SUCCEEDED. The queue is the session's own and is deleted after."""

from __future__ import annotations

import os

import pytest
from kombu import Connection, Exchange, Queue

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, running_platform  # noqa: F401
from flowyard_testkit.services import celery_broker

pytestmark = pytest.mark.django_db(transaction=True)

RABBITMQ_URL = os.environ.get("FLOWYARD_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def rabbitmq_queue(settings):
    """The session's task queue on RabbitMQ, deleted (with its exchange) after the test."""
    name = settings.CELERY_TASK_DEFAULT_QUEUE
    yield name
    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        channel = connection.default_channel
        Queue(name, Exchange(name, "direct"), routing_key=name)(channel).delete()
        Exchange(name, "direct")(channel).delete()


def test_a_run_goes_through_a_rabbitmq_broker(live_server, behaviours_image, docker_client, tmp_path,  # noqa: F811
                                              rabbitmq_queue):
    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)  # fails here, naming the broker, when RabbitMQ does not answer
    env = {"FLOWYARD_BROKER_URL": RABBITMQ_URL}
    with celery_broker(RABBITMQ_URL), running_platform(live_server, behaviours_image, docker_client, tmp_path,
                                                       env=env) as platform:
        assert "amqp://guest:**@127.0.0.1:5672" in platform.worker.log()
        run_id = platform.trigger(platform.deploy(), mode="ok")
        assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
        assert platform.logs(run_id).count("first line of user code") == 1
