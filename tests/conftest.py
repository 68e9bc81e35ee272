"""Fixtures shared by the whole suite (the session's data directory and queue come from flowyard_testkit.environment)."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _drop_the_session_queue():
    """Delete this session's Celery queue from Redis at the end (messages of runs no worker took)."""
    yield
    import redis

    try:
        redis.Redis.from_url(os.environ["FLOWYARD_BROKER_URL"]).delete(os.environ["FLOWYARD_TASK_QUEUE"])
    except (redis.RedisError, KeyError):
        pass
