"""Celery queue depth: messages waiting in the broker's task queues, read at scrape time within BROKER_SECONDS.

Redis (the production broker): LLEN of each queue's list and of kombu's priority sub-queues (`<queue>\\x06\\x16<n>`),
in one pipelined round trip. The embedded filesystem broker: the message files of each queue in its folder.
Any other broker is not measured (both families stay empty). An unreachable or slow broker never fails the
scrape: `flowyard_broker_up` is 0 and `flowyard_celery_queue_depth` absent.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from prometheus_client.core import Metric

from controlplane.operations.metrics.families import Family, Source

BROKER_SECONDS = 1.0


def queues() -> list[str]:
    """The queues Flowyard's tasks go to: the task queue and, when it has its own, the scheduler's."""
    task_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    return sorted({task_queue, settings.FLOWYARD.scheduler_queue or task_queue})


def _redis_depths(url: str, names: list[str], options: dict[str, Any]) -> dict[str, int]:
    import redis
    from kombu.transport.redis import Channel

    prefix = options.get("global_keyprefix", "")
    sep = options.get("sep", Channel.sep)
    steps = options.get("priority_steps", Channel.priority_steps)
    client = redis.Redis.from_url(url, socket_connect_timeout=BROKER_SECONDS, socket_timeout=BROKER_SECONDS)
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for step in steps:
                    pipe.llen(f"{prefix}{name}{sep}{step}" if step else f"{prefix}{name}")
            lengths = iter(pipe.execute())
    finally:
        client.close()
    return {name: sum(next(lengths) for _ in steps) for name in names}


def _filesystem_depths(names: list[str], options: dict[str, Any]) -> dict[str, int]:
    # kombu names a message file `<ms>_<uuid>.<queue>.msg` in data_folder_in (see kombu.transport.filesystem).
    depths = dict.fromkeys(names, 0)
    for filename in os.listdir(options["data_folder_in"]):
        queue = filename.partition(".")[2].removesuffix(".msg")
        if queue in depths and filename.endswith(".msg"):
            depths[queue] += 1
    return depths


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue; None when this broker is not measured. Raises when the broker does not answer."""
    url = settings.CELERY_BROKER_URL
    scheme = url.partition("://")[0]
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS or {})
    if scheme in ("redis", "rediss"):
        return _redis_depths(url, queues(), options)
    if scheme == "filesystem":
        return _filesystem_depths(queues(), options)
    return None


def _fill(depth: Metric, up: Metric) -> None:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowyard-metrics-broker")
    try:
        depths = pool.submit(queue_depths).result(timeout=BROKER_SECONDS)
    except Exception:  # timed out, refused, unknown host...: the scrape goes on without it
        up.add_metric([], 0)
        return
    finally:
        pool.shutdown(wait=False)
    if depths is None:
        return
    up.add_metric([], 1)
    for name, n in sorted(depths.items()):
        depth.add_metric([name], n)


BROKER = Source(
    families=(
        Family("flowyard_celery_queue_depth", "gauge", "Messages waiting in the broker's Celery queue, by queue "
               "(absent: the broker did not answer).", ("queue",)),
        Family("flowyard_broker_up", "gauge", "1 when the Celery broker answered the queue depth query within "
               f"{BROKER_SECONDS:g} s, 0 when it did not.", ()),
    ),
    fill=_fill, queries=0,
)
