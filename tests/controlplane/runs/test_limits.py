"""Concurrency limits: a QUEUED run is allowed, waits, or is skipped, by deployment, project and runtime target."""

from __future__ import annotations

from typing import Any

from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment
from controlplane.runs import lifecycle
from controlplane.runs.limits import Decision, Verdict, limit_decision, skip_run
from controlplane.runs.models import Run
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import Role, RunReason, RunState
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import Tenant, digest


def deploy_config(tenant: Tenant, seed: str = "limits", **config: Any) -> Deployment:
    """Register a version of `etl` with `config` and deploy it to the tenant's `test` environment."""
    developer = tenant.users[Role.DEVELOPER]
    version = register_version(
        actor=developer, workflow=tenant.workflow, image_digest=digest(tenant.prefix + seed),
        image_ref=f"127.0.0.1:5000/{tenant.prefix}/etl:{seed}", config={"name": "etl", **config},
    )
    return deployments.deployment_set(
        actor=developer, workflow=tenant.workflow, environment=tenant.test_env, version=version
    )


def run_in(deployment: Deployment, state: RunState) -> Run:
    """A run of `deployment` stored directly in `state`, read back as the launcher reads it."""
    run = Run.objects.create(deployment=deployment, version=deployment.version, state=state.value)
    return Run.objects.select_related(
        "version", "deployment__environment__project", "deployment__workflow", "deployment__environment__runtime"
    ).get(pk=run.pk)


def test_a_run_under_every_limit_is_allowed(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=2, **{"concurrency-policy": "skip"})
    tenant_a.project.max_concurrent_runs = 3
    tenant_a.project.save()
    tenant_a.test_env.runtime = RuntimeTarget.objects.create(name="docker-a", kind="docker", max_concurrent_runs=3)
    tenant_a.test_env.save()
    run_in(deployment, RunState.RUNNING)
    run_in(tenant_a.production_deployment, RunState.STARTING)
    queued = run_in(deployment, RunState.QUEUED)
    assert limit_decision(queued) == Decision(Verdict.ALLOW)
    assert limit_decision(queued).allowed


def test_queued_and_ended_runs_hold_no_slot(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=1)
    for state in (RunState.QUEUED, RunState.SCHEDULED, RunState.SUCCEEDED, RunState.FAILED, RunState.CRASHED):
        run_in(deployment, state)
    assert limit_decision(run_in(deployment, RunState.QUEUED)).verdict is Verdict.ALLOW


def test_a_full_deployment_with_the_queue_policy_makes_the_run_wait(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=2)
    run_in(deployment, RunState.STARTING)
    run_in(deployment, RunState.RUNNING)
    queued = run_in(deployment, RunState.QUEUED)
    decision = limit_decision(queued)
    assert decision.verdict is Verdict.WAIT
    assert decision.message == "2 runs of this deployment are already running (concurrency 2, policy queue)."
    assert limit_decision(queued).allowed is False


def test_a_full_deployment_with_the_skip_policy_skips_the_run(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=1, **{"concurrency-policy": "skip"})
    run_in(deployment, RunState.RUNNING)
    queued = run_in(deployment, RunState.QUEUED)
    decision = limit_decision(queued)
    assert decision == Decision(
        Verdict.SKIP, "Skipped: 1 run of this deployment is already running (concurrency 1, policy skip)"
    )
    assert limit_decision(queued).allowed is False


def test_a_cancelling_run_still_holds_its_slot(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=1, **{"concurrency-policy": "skip"})
    run_in(deployment, RunState.CANCELLING)
    assert limit_decision(run_in(deployment, RunState.QUEUED)).verdict is Verdict.SKIP


def test_the_environment_override_of_the_policy_applies(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=1, environments={"test": {"concurrency-policy": "skip"}})
    run_in(deployment, RunState.RUNNING)
    assert limit_decision(run_in(deployment, RunState.QUEUED)).verdict is Verdict.SKIP


def test_a_skipped_run_ends_cancelled_with_the_message(tenant_a):
    deployment = deploy_config(tenant_a, concurrency=1, **{"concurrency-policy": "skip"})
    run_in(deployment, RunState.RUNNING)
    queued = run_in(deployment, RunState.QUEUED)
    decision = limit_decision(queued)
    assert lifecycle.rule_for(RunState.QUEUED, RunState.CANCELLED).name == "cancel_unlaunched"
    assert skip_run(queued, decision) is RunState.CANCELLED
    queued.refresh_from_db()
    assert queued.state == RunState.CANCELLED.value and queued.reason == RunReason.CANCELLED.value
    assert queued.message == decision.message and queued.ended_at is not None


def test_a_full_project_makes_the_run_wait_whatever_the_deployment_policy(tenant_a, tenant_b):
    deployment = deploy_config(tenant_a, concurrency=5, **{"concurrency-policy": "skip"})
    tenant_a.project.max_concurrent_runs = 2
    tenant_a.project.save()
    run_in(tenant_a.production_deployment, RunState.RUNNING)
    run_in(tenant_a.report_test_deployment, RunState.STARTING)
    run_in(tenant_b.test_deployment, RunState.RUNNING)  # another project's run takes no slot of this one
    decision = limit_decision(run_in(deployment, RunState.QUEUED))
    assert decision == Decision(
        Verdict.WAIT, "2 runs of project alpha-main are already running (project limit 2)."
    )


def test_another_projects_runs_do_not_fill_a_project(tenant_a, tenant_b):
    tenant_a.project.max_concurrent_runs = 1
    tenant_a.project.save()
    run_in(tenant_b.test_deployment, RunState.RUNNING)
    run_in(tenant_b.production_deployment, RunState.RUNNING)
    assert limit_decision(run_in(tenant_a.test_deployment, RunState.QUEUED)).verdict is Verdict.ALLOW


def test_a_full_runtime_target_makes_the_run_wait_whatever_the_deployment_policy(tenant_a, tenant_b):
    deployment = deploy_config(tenant_a, concurrency=5, **{"concurrency-policy": "skip"})
    shared = RuntimeTarget.objects.create(name="shared-docker", kind="docker", max_concurrent_runs=1)
    for environment in (tenant_a.test_env, tenant_b.test_env):
        environment.runtime = shared
        environment.save()
    run_in(tenant_b.test_deployment, RunState.RUNNING)  # a target is shared by projects: its slots are too
    decision = limit_decision(run_in(deployment, RunState.QUEUED))
    assert decision == Decision(
        Verdict.WAIT, "1 run on runtime target shared-docker is already running (target limit 1)."
    )


def test_the_default_target_limits_environments_that_name_no_target(tenant_a):
    RuntimeTarget.objects.create(name="default-docker", kind="docker", is_default=True, max_concurrent_runs=1)
    run_in(tenant_a.production_deployment, RunState.RUNNING)
    decision = limit_decision(run_in(tenant_a.test_deployment, RunState.QUEUED))
    assert decision.verdict is Verdict.WAIT and "runtime target default-docker" in decision.message


def test_runs_on_another_target_do_not_fill_the_default_one(tenant_a):
    RuntimeTarget.objects.create(name="default-docker", kind="docker", is_default=True, max_concurrent_runs=1)
    tenant_a.production_env.runtime = RuntimeTarget.objects.create(name="big-ecs", kind="ecs")
    tenant_a.production_env.save()
    run_in(tenant_a.production_deployment, RunState.RUNNING)
    assert limit_decision(run_in(tenant_a.test_deployment, RunState.QUEUED)).verdict is Verdict.ALLOW


def test_the_launcher_skips_a_run_over_a_skip_policy_limit_and_says_why(tenant_a):
    from controlplane.runs.launcher import run_launch
    from controlplane.runs.models import Run

    version = tenant_a.run.version
    version.config = {**version.config, "concurrency": 1, "concurrency-policy": "skip"}
    version.save()
    busy = Run.objects.create(deployment=tenant_a.test_deployment, version=version, state="RUNNING")
    assert run_launch(tenant_a.run.pk) == "CANCELLED"
    skipped = Run.objects.get(pk=tenant_a.run.pk)
    assert (skipped.state, skipped.reason) == ("CANCELLED", "cancelled")
    assert skipped.message.startswith("Skipped:") and busy.state == "RUNNING"
