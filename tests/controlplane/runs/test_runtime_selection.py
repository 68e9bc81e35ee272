"""A version's `cloud-execution-environment` picks its runs' runtime target, or refuses them with the fix.

The environment runs on a Docker target; the default target is ECS, served by a moto server over HTTP. A
`fargate` config runs on the ECS target (and the reconciler watches it there), a config that names no runtime
keeps the environment's own target, and a kind the environment has no target of fails the run at launch.
"""

from __future__ import annotations

import pytest

from controlplane.runs.launcher import run_launch
from controlplane.runs.models import Run
from controlplane.runs.reconciler import reconcile_once
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import RuntimeKindUnavailable, target_for_run_config
from flowyard_spec.states import Role
from flowyard_testkit.aws import ecs_target, moto_aws  # noqa: F401  (fixtures)


@pytest.fixture
def targets(tenant_a, ecs_target):  # noqa: F811
    """The test environment's own target (Docker) and the default target (ECS on moto)."""
    docker = RuntimeTarget.objects.create(name="docker-hosts", kind="docker", settings={"network_mode": "host"})
    ecs = RuntimeTarget.objects.create(name="moto-ecs", kind="ecs", settings=ecs_target, is_default=True)
    tenant_a.test_env.runtime = docker
    tenant_a.test_env.save()
    return {"docker": docker, "ecs": ecs}


def with_config(run: Run, **changes) -> Run:
    """The run, its version's config changed (keys as in flowyard.json)."""
    version = run.version
    version.config = {**version.config, **changes}
    version.save()
    return Run.objects.get(pk=run.pk)


def test_fargate_runs_on_the_ecs_target_and_is_reconciled_there(tenant_a, targets, moto_aws, ecs_target):  # noqa: F811
    run = with_config(tenant_a.run, **{"cloud-execution-environment": "fargate", "cpu": 256, "memory": 512})
    assert run_launch(run.pk) == "STARTING"
    run.refresh_from_db()
    tasks = moto_aws.client("ecs").list_tasks(cluster=ecs_target["cluster"], startedBy=str(run.pk))["taskArns"]
    assert tasks == [run.runtime_ref]
    reconcile_once(launch=lambda run_id: None)
    assert Run.objects.get(pk=run.pk).state == "STARTING", "found on ECS, not called lost on the Docker target"


def test_an_environment_override_picks_the_runtime_of_that_environment(tenant_a, targets):
    config = {**tenant_a.run.version.config, "cloud-execution-environment": "docker",
              "environments": {"test": {"cloud-execution-environment": "ecs"}}}
    assert target_for_run_config(tenant_a.test_env, config) == targets["ecs"]
    with pytest.raises(RuntimeKindUnavailable, match="environment alpha-main:production has none"):
        target_for_run_config(tenant_a.production_env, config)  # no override there, and no Docker target
    assert target_for_run_config(tenant_a.test_env, {"name": "etl"}) == targets["docker"], "no key: as before"


def test_a_kind_the_environment_has_no_target_of_fails_the_run_with_the_fix(tenant_a, targets):
    run = with_config(tenant_a.run, **{"cloud-execution-environment": "local"})
    with pytest.raises(RuntimeKindUnavailable):
        target_for_run_config(run.deployment.environment, run.version.config)
    assert run_launch(run.pk) == "FAILED"
    run.refresh_from_db()
    assert (run.state, run.reason, run.runtime_ref) == ("FAILED", "user_error", "")
    message = run.message
    assert "cloud-execution-environment is 'local'" in message and "local runtime target" in message
    assert str(tenant_a.test_env) in message and "docker-hosts" in message
    assert "To fix it" in message and "'docker'" in message and "platform staff" in message


def test_triggering_through_the_api_a_runtime_the_environment_lacks_is_refused_before_a_run_exists(
    tenant_a, targets, client_for
):
    with_config(tenant_a.run, **{"cloud-execution-environment": "local"})
    runs_before = Run.objects.count()
    developer = client_for(tenant_a.users[Role.DEVELOPER])
    response = developer.post("/api/v1/runs/", {"deployment": str(tenant_a.test_deployment.pk)}, format="json")
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "runtime_unavailable"
    assert body["extra"] == {"field": "cloud-execution-environment", "value": "local", "environment": "test"}
    assert "To fix it" in body["message"] and "docker-hosts" in body["message"]
    assert Run.objects.count() == runs_before, "nothing was queued"


def test_a_scheduled_tick_of_such_a_config_is_still_recorded_and_fails_at_launch(tenant_a, targets):
    from controlplane.runs.services import run_trigger
    from flowyard_spec.states import TriggerKind

    with_config(tenant_a.run, **{"cloud-execution-environment": "local"})
    run = run_trigger(actor=None, deployment=tenant_a.test_deployment, trigger=TriggerKind.SCHEDULE)
    assert run_launch(run.pk) == "FAILED", "nobody waits on a tick: the run shows the refusal instead"


def test_cancelling_a_fargate_run_stops_its_ecs_task_not_a_docker_container(tenant_a, targets, moto_aws, ecs_target):  # noqa: F811
    from controlplane.runs.services import run_cancel
    from controlplane.runs.tasks import cancel_run

    run = with_config(tenant_a.run, **{"cloud-execution-environment": "fargate", "cpu": 256, "memory": 512})
    assert run_launch(run.pk) == "STARTING"
    run.refresh_from_db()
    assert run_cancel(actor=None, run=run).state == "CANCELLING"
    cancel_run(str(run.pk))  # the Celery task's body, as the worker runs it
    ecs = moto_aws.client("ecs")
    task = ecs.describe_tasks(cluster=ecs_target["cluster"], tasks=[run.runtime_ref])["tasks"][0]
    assert task["desiredStatus"] == "STOPPED", "the task on the ECS target was asked to stop"


def test_a_launched_run_stays_on_its_target_after_its_environment_is_moved_to_another(
    tenant_a, targets, moto_aws, ecs_target  # noqa: F811
):
    from django.utils import timezone

    from controlplane.runs.limits import limit_decision
    from controlplane.runs.services import run_cancel, run_trigger
    from controlplane.runs.tasks import cancel_run

    run = with_config(tenant_a.run, **{"cloud-execution-environment": "fargate", "cpu": 256, "memory": 512})
    assert run_launch(run.pk) == "STARTING"
    Run.objects.filter(pk=run.pk).update(state="RUNNING", started_at=timezone.now(), heartbeat_at=timezone.now())
    run = Run.objects.get(pk=run.pk)
    assert run.runtime_target == targets["ecs"]
    # The version's config no longer names a runtime, so new runs would go to the environment's Docker target.
    version = run.version
    version.config = {key: value for key, value in version.config.items() if key != "cloud-execution-environment"}
    version.save()
    targets["ecs"].max_concurrent_runs = 1
    targets["ecs"].save()
    reconcile_once(launch=lambda run_id: None)
    assert Run.objects.get(pk=run.pk).state == "RUNNING", "still found on ECS, not called lost on Docker"
    # Its slot on the ECS target is still taken: a second fargate run waits for it.
    with_config(run, **{"cloud-execution-environment": "fargate"})
    waiting = run_trigger(actor=None, deployment=run.deployment)
    assert limit_decision(waiting).verdict == "wait"
    # And cancelling stops the ECS task it runs as.
    run_cancel(actor=None, run=run)
    cancel_run(str(run.pk))
    task = moto_aws.client("ecs").describe_tasks(cluster=ecs_target["cluster"], tasks=[run.runtime_ref])["tasks"][0]
    assert task["desiredStatus"] == "STOPPED"
