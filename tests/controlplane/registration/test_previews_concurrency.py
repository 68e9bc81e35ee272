"""Two merge requests' first pipelines racing for the project's last preview place: one gets its preview, the
other waits for it and is refused by the limit, never both."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from controlplane.deployments.models import Environment, ReleaseRules
from controlplane.registration.previews import PreviewLimitReached, preview_ensure
from flowyard_testkit.cli import wait_until
from flowyard_testkit.tenants import build_tenant

from ..runs.test_limits_concurrency import waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def first_pipeline(tenant, merge_request: int, outcomes: dict, done: threading.Event,
                   release: threading.Event | None = None) -> None:
    """What the registration does for a merge request's first pipeline; holds its transaction until `release`."""
    try:
        with transaction.atomic():
            rules = ReleaseRules.objects.get(project=tenant.project)
            try:
                preview_ensure(actor=None, project=tenant.project, rules=rules, base=tenant.test_env,
                               merge_request=merge_request)
                outcomes[merge_request] = "made"
            except PreviewLimitReached:
                outcomes[merge_request] = "refused"
            done.set()
            if release is not None:
                assert release.wait(30), "the test never released the first pipeline"
    finally:
        connections.close_all()


def test_two_first_pipelines_never_both_take_the_last_preview_place():
    tenant = build_tenant("race")  # mr-7 is live
    ReleaseRules.objects.filter(project=tenant.project).update(preview_limit=2)
    outcomes: dict[int, str] = {}
    first_done, second_started, second_done, release = (threading.Event() for _ in range(4))
    a = threading.Thread(target=first_pipeline, args=(tenant, 20, outcomes, first_done, release))
    a.start()
    assert first_done.wait(30)

    def second() -> None:
        second_started.set()
        first_pipeline(tenant, 21, outcomes, second_done)

    b = threading.Thread(target=second)
    b.start()
    if connection.vendor == "postgresql":  # it waits on the project's row lock
        wait_until(lambda: second_done.is_set() or waiting_on_a_lock(), what="the second pipeline to decide or wait")
    else:  # SQLite serialises writers
        wait_until(second_started.is_set, what="the second pipeline to start")
    release.set()
    a.join(30)
    b.join(30)

    assert outcomes == {20: "made", 21: "refused"}
    assert sorted(Environment.objects.filter(project=tenant.project, kind="preview", torn_down_at__isnull=True)
                  .values_list("name", flat=True)) == ["mr-20", "mr-7"]
