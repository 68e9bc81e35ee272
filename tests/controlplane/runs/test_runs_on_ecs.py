"""A run on an ECS/Fargate target, through the launcher and the reconciler, against a moto server over HTTP.

moto runs no container (see tests/controlplane/runtimes/test_ecs_backend.py): the task is RUNNING as soon as
it is launched and STOPPED once stopped, with exit code 0. So this shows the run's life on ECS from the
control plane's side: launched as one Fargate task, reported, cancelled, and failed at launch.
"""

from __future__ import annotations

import pytest

from controlplane.runs.launcher import run_launch
from controlplane.runs.models import Run
from controlplane.runs.reconciler import reconcile_once
from controlplane.runtimes.models import RuntimeTarget
from flowyard_testkit.aws import ecs_target, moto_aws  # noqa: F401  (fixtures)


@pytest.fixture
def on_ecs(tenant_a, ecs_target):  # noqa: F811
    """Tenant A's test environment launches on an ECS target served by moto; its queued run, with a Fargate size."""
    tenant_a.test_env.runtime = RuntimeTarget.objects.create(name="moto-ecs", kind="ecs", settings=ecs_target)
    tenant_a.test_env.save()
    version = tenant_a.run.version
    version.config = {**version.config, "cpu": 256, "memory": 512}
    version.save()
    return Run.objects.get(pk=tenant_a.run.pk)


def relaunch_nothing(run_id):
    """The reconciler's launch callback: these tests launch by hand."""


def test_a_run_is_launched_as_one_fargate_task_and_reported(on_ecs, moto_aws, ecs_target):  # noqa: F811
    assert run_launch(on_ecs.pk) == "STARTING"
    assert run_launch(on_ecs.pk) is None, "a second delivery launches nothing"
    run = Run.objects.get(pk=on_ecs.pk)
    tasks = moto_aws.client("ecs").list_tasks(cluster=ecs_target["cluster"], startedBy=str(run.pk))["taskArns"]
    assert tasks == [run.runtime_ref]
    reconcile_once(launch=relaunch_nothing)
    assert Run.objects.get(pk=run.pk).state == "STARTING", "the task runs; the run waits for its runner"


def test_a_cancelled_run_stops_its_task_and_ends_cancelled(on_ecs, moto_aws, ecs_target, client_for):  # noqa: F811
    run_launch(on_ecs.pk)
    Run.objects.filter(pk=on_ecs.pk).update(state="RUNNING")  # as if its runner had reported
    response = client_for(on_ecs.triggered_by).post(f"/api/v1/runs/{on_ecs.pk}/cancel/", format="json")
    assert response.json()["state"] == "CANCELLING"
    reconcile_once(launch=relaunch_nothing)  # asks ECS to stop the task
    reconcile_once(launch=relaunch_nothing)  # sees it STOPPED
    run = Run.objects.get(pk=on_ecs.pk)
    assert (run.state, run.reason) == ("CANCELLED", "cancelled")
    task = moto_aws.client("ecs").describe_tasks(cluster=ecs_target["cluster"], tasks=[run.runtime_ref])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["stoppedReason"] == "Cancelled by Flowyard"


def test_a_launch_ecs_refuses_fails_the_run_with_the_reason(on_ecs):
    version = on_ecs.version
    version.config = {**version.config, "cpu": 256, "memory": 4096}  # not a Fargate size
    version.save()
    assert run_launch(on_ecs.pk) == "FAILED"
    run = Run.objects.get(pk=on_ecs.pk)
    assert run.state == "FAILED" and "4096" in run.message and run.ended_at is not None


def test_an_unreachable_cluster_leaves_the_run_queued_for_the_next_attempt(on_ecs):
    target = on_ecs.deployment.environment.runtime
    target.settings = {**target.settings, "cluster": "no-such-cluster"}
    target.save()
    assert run_launch(on_ecs.pk) is None
    run = Run.objects.get(pk=on_ecs.pk)
    assert (run.state, run.runtime_ref) == ("QUEUED", "")
    assert run.message.startswith("Waiting to start: the runtime does not answer")
