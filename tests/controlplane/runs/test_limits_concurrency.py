"""Two launchers racing for the last slot of a limit: the second waits for the first and counts its run."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from controlplane.runs import lifecycle
from controlplane.runs.limits import Verdict, limit_decision
from controlplane.runs.models import Run
from flowyard_spec.states import RunState
from flowyard_testkit.cli import wait_until
from flowyard_testkit.tenants import build_tenant

from .test_limits import deploy_config

pytestmark = pytest.mark.django_db(transaction=True)


def launch_like_the_launcher(run_id, verdicts: dict, name: str, decided: threading.Event,
                             release: threading.Event | None = None) -> None:
    """Claim the run, ask the limits, record STARTING if allowed; hold the transaction open until `release`."""
    try:
        with transaction.atomic():
            Run.objects.filter(pk=run_id, state=RunState.QUEUED).update(token_hash=name)  # the launcher's claim
            run = Run.objects.select_related("version", "deployment__environment__project",
                                             "deployment__environment__runtime").get(pk=run_id)
            decision = limit_decision(run)
            verdicts[name] = decision.verdict
            decided.set()
            if decision.allowed:
                lifecycle.transition(run, RunState.STARTING)
                run.save()
            if release is not None:
                assert release.wait(30), "the test never released the first launcher"
    finally:
        connections.close_all()


def waiting_on_a_lock() -> bool:
    """True while some other connection of this database waits for a row lock (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] > 0


@pytest.mark.parametrize("limit", ["deployment", "project"])
def test_the_second_launcher_waits_for_the_first_and_then_finds_the_slot_taken(limit):
    tenant = build_tenant("race")
    if limit == "deployment":
        deployment = deploy_config(tenant, concurrency=1)
    else:
        deployment = deploy_config(tenant)
        tenant.project.max_concurrent_runs = 1
        tenant.project.save()
    first, second = (Run.objects.create(deployment=deployment, version=deployment.version) for _ in range(2))
    verdicts: dict[str, Verdict] = {}
    first_decided, second_started, second_decided, release = (threading.Event() for _ in range(4))

    a = threading.Thread(target=launch_like_the_launcher, args=(first.pk, verdicts, "first", first_decided, release))
    a.start()
    assert first_decided.wait(30)

    def second_launcher() -> None:
        second_started.set()
        launch_like_the_launcher(second.pk, verdicts, "second", second_decided)

    b = threading.Thread(target=second_launcher)
    b.start()
    # The second launcher must not decide while the first one's STARTING is uncommitted: it waits on the limit's
    # row lock (PostgreSQL) or on the database's writer lock (SQLite serialises writers).
    if connection.vendor == "postgresql":
        wait_until(lambda: second_decided.is_set() or waiting_on_a_lock(), what="the second launcher to decide or wait")
    else:
        wait_until(second_started.is_set, what="the second launcher to start")
    release.set()
    a.join(30)
    b.join(30)

    assert verdicts == {"first": Verdict.ALLOW, "second": Verdict.WAIT}
    assert Run.objects.filter(deployment=deployment, state=RunState.STARTING).count() == 1
