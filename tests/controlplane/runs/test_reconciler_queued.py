"""The reconciler offers a QUEUED run to the launcher again only once its own launch task had time to arrive: a
burst of triggers makes one launch task per run, not two (the ECS target on a moto server answers the listing)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from controlplane.runs.models import Run
from controlplane.runs.reconciler import REOFFER_AFTER_SECONDS, reconcile_once
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import RunState
from flowyard_testkit.aws import ecs_target, moto_aws  # noqa: F401  (fixtures)


def test_a_run_queued_moments_ago_is_left_to_its_own_launch_task_and_offered_again_later(tenant_a, ecs_target):  # noqa: F811
    RuntimeTarget.objects.create(name="moto-ecs", kind="ecs", settings=ecs_target, is_default=True)
    deployment = tenant_a.test_deployment
    run = Run.objects.create(deployment=deployment, version=deployment.version, state=RunState.QUEUED.value,
                             state_changed_at=timezone.now())
    offered: list = []

    reconcile_once(launch=offered.append)
    assert run.pk not in offered, "its launch task, enqueued on commit, is still on its way"

    earlier = timezone.now() - datetime.timedelta(seconds=REOFFER_AFTER_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(state_changed_at=earlier)
    reconcile_once(launch=offered.append)
    assert offered.count(run.pk) == 1, "a run still QUEUED after that is offered again (its task may be lost)"
