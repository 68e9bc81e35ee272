"""The test kit's own services: a broker switch must leave every broker usable after it."""

from __future__ import annotations

import redis

from flowyard_testkit.services import OwnRedis, celery_broker, own_redis  # noqa: F401

PROBE_QUEUE = "flowyard-testkit-probe"


def _send_probe() -> None:
    from controlplane.celery import app

    app.send_task("controlplane.testkit.probe", args=[], queue=PROBE_QUEUE)


def _queued(server: OwnRedis) -> int:
    return redis.Redis(host="127.0.0.1", port=server.port).llen(PROBE_QUEUE)


def test_a_broker_switched_away_from_and_back_to_still_takes_messages(own_redis):
    second = OwnRedis()
    second.start()
    try:
        with celery_broker(own_redis.url):
            _send_probe()
            with celery_broker(second.url):
                _send_probe()
            _send_probe()
        assert _queued(second) == 1
    finally:
        second.stop()

    assert _queued(own_redis) == 2
