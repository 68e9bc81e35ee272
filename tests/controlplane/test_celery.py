"""A worker's tasks reuse its database connection, as the web process's requests do, until Django's rules close it."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from controlplane.celery import app, close_old_database_connections

pytestmark = pytest.mark.django_db(transaction=True)  # outside a test transaction, as a worker's tasks run


def a_task(*, eager: bool = False) -> SimpleNamespace:
    """What Celery's task_prerun/task_postrun signals pass as `task` (a worker's task, or one applied eagerly)."""
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 1")
        return cursor.fetchone()[0]


def around_a_task(fixup: DjangoWorkerFixup, task: SimpleNamespace) -> None:
    """What a worker does before and after a task: Celery's Django fixup, then Flowyard's own rule."""
    fixup.on_task_prerun(sender=task)
    close_old_database_connections(task=task)
    fixup.on_task_postrun(sender=task)
    close_old_database_connections(task=task)


def test_the_next_task_uses_the_same_database_connection():
    fixup = DjangoWorkerFixup(app)  # reads the settings, as the worker does when it starts
    first = backend_pid()
    around_a_task(fixup, a_task())
    assert connection.connection is not None
    assert backend_pid() == first


def test_a_connection_past_its_max_age_is_closed_around_a_task_and_the_next_query_opens_a_new_one():
    backend_pid()
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE has passed
    around_a_task(DjangoWorkerFixup(app), a_task())
    assert connection.connection is None
    assert backend_pid()


def test_an_eager_task_leaves_its_callers_connection_alone():
    first = backend_pid()
    connection.close_at = time.monotonic() - 1
    close_old_database_connections(task=a_task(eager=True))
    assert connection.connection is not None and backend_pid() == first
