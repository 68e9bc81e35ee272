"""Dispatchers racing on one backfill (threads, each with its own database connection) create no duplicate run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from controlplane.deployments import services as deployments
from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.scheduling.backfills import backfill_create, backfill_dispatch, dispatch_backfills
from controlplane.scheduling.models import Backfill
from flowyard_testkit.registration import register_version
from flowyard_spec.states import ACTIVE_RUN_STATES, RunState
from flowyard_testkit.tenants import build_tenant, digest

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 3, 1, tzinfo=UTC)
TICKS = [START + timedelta(hours=hour) for hour in range(7)]
NOW = datetime(2026, 3, 2, tzinfo=UTC)
DISPATCHERS = 6


@pytest.fixture
def hourly():
    """A tenant's test deployment running a version with an hourly schedule, and its developer."""
    tenant = build_tenant("alpha")
    developer = tenant.users["developer"]
    version = register_version(
        workflow=tenant.workflow, image_digest=digest("hourly"), image_ref="127.0.0.1:5000/etl:hourly",
        config={"name": "etl", "schedule": "cron(0 * * * ? *)", "parameters": {"day": "{{ scheduled_date }}"}},
    )
    deployment = deployments.deployment_set(actor=developer, workflow=tenant.workflow, environment=tenant.test_env,
                                            version=version)
    return deployment, developer


def race(target, count: int = DISPATCHERS) -> list[BaseException]:
    """Run `target` in `count` threads released together; returns what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a dispatcher hung"
    return errors


def succeed_all_live(backfill: Backfill) -> None:
    """End every live run of the backfill as SUCCEEDED."""
    for run_id in Run.objects.filter(backfill=backfill, state__in=list(ACTIVE_RUN_STATES)).values_list("pk", flat=True):
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run_id)
            lifecycle.transition(run, RunState.RUNNING)
            lifecycle.transition(run, RunState.SUCCEEDED)
            run.save()


def test_concurrent_dispatchers_keep_max_active_and_one_run_per_tick(hourly):
    deployment, developer = hourly
    backfill = backfill_create(actor=developer, deployment=deployment, start=TICKS[0], end=TICKS[-1], max_active=2,
                               now=NOW)
    assert Run.objects.filter(backfill=backfill).count() == 2, "the first runs start when the backfill is created"
    for _ in range(5):
        assert race(lambda: backfill_dispatch(backfill.pk, now=NOW)) == []
        assert Run.objects.filter(backfill=backfill, state__in=list(ACTIVE_RUN_STATES)).count() <= 2
        succeed_all_live(backfill)
        assert race(dispatch_backfills) == []
    backfill.refresh_from_db()
    assert backfill.state == "COMPLETED"
    ticks = list(Run.objects.filter(backfill=backfill).values_list("scheduled_for", flat=True))
    assert sorted(ticks) == TICKS, "exactly one run per tick"
