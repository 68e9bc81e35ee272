"""Upstream triggers: a run that succeeds starts the workflows its config names in `triggers.on_success`,
in the environment of the same name, once; anything that prevents a downstream run is said, never silent."""

from __future__ import annotations

import datetime

import pytest

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment, Environment
from controlplane.runs import services as runs
from controlplane.runs.models import Run, RunLogLine
from controlplane.runs.signals import run_ended
from controlplane.scheduling.grants import trigger_grant_create
from controlplane.scheduling.models import TriggerGrant
from controlplane.tenancy.models import Project
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_testkit.run_ends import end_run
from controlplane.workflows.models import Workflow
from flowyard_spec.states import RunReason, RunState
from flowyard_testkit.tenants import Tenant, digest

TICK = datetime.datetime(2026, 3, 1, 14, tzinfo=datetime.timezone.utc)


def deploy(project: Project, name: str, environment: str = "test", *, seed: str = "1", **config) -> Deployment:
    """Register a version of workflow `name` with `config` and deploy it to `environment`."""
    workflow, _ = Workflow.objects.get_or_create(project=project, name=name)
    version = register_version(
        workflow=workflow, image_digest=digest(f"{project.slug}/{name}/{seed}"),
        image_ref=f"127.0.0.1:5000/{project.slug}/{name}:{seed}", config={"name": name, **config},
    )
    return deployments.deployment_set(actor=None, workflow=workflow,
                                      environment=Environment.objects.get(project=project, name=environment),
                                      version=version)


def allow(project: Project, *, upstream: Project, actor) -> None:
    """Let `upstream`'s workflows trigger `project`'s (unless a grant already does)."""
    if not TriggerGrant.objects.filter(project=project, upstream_project=upstream).exists():
        trigger_grant_create(actor=actor, project=project, upstream_project=upstream)


@pytest.fixture
def finish(django_capture_on_commit_callbacks):
    """`finish(run, state)` ends a run and runs what happens after the commit (retries, run_ended receivers)."""

    def run_to(run: Run, state: RunState = RunState.SUCCEEDED, reason: RunReason | None = None) -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            return end_run(run, state, reason)

    return run_to


@pytest.fixture
def chain(tenant_a: Tenant) -> dict[str, Deployment]:
    """In team A's project: `a` triggers `b` on success; both are deployed to test; `b` declares a parameter."""
    return {
        "b": deploy(tenant_a.project, "b", parameters={"day": "{{ scheduled_date }}", "limit": 5}),
        "a": deploy(tenant_a.project, "a", triggers={"on_success": ["b"]}),
    }


def downstream_of(run: Run) -> list[Run]:
    return list(Run.objects.filter(upstream_run=run))


def skipped(run: Run) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="run.downstream_skipped", object_id=str(run.pk)))


def system_lines(run: Run) -> list[str]:
    return list(RunLogLine.objects.filter(run=run, stream="system").values_list("message", flat=True))


def test_a_success_starts_the_downstream_workflow_once_with_the_upstream_run_and_its_tick(chain, finish):
    a_run = runs.run_trigger(actor=None, deployment=chain["a"], scheduled_for=TICK)
    finish(a_run)
    (b_run,) = downstream_of(a_run)
    assert (b_run.deployment, b_run.state, b_run.trigger) == (chain["b"], "QUEUED", "upstream")
    assert b_run.scheduled_for == TICK, "the tick flows down the chain"
    assert b_run.parameters == {"day": "2026-03-01", "limit": 5}, "the downstream's declared defaults"
    assert b_run.triggered_by_label == f"upstream-run:{a_run.pk}"
    event = AuditEvent.objects.get(action="run.triggered", object_id=str(b_run.pk))
    assert event.actor_label == f"upstream-run:{a_run.pk}"


def test_a_failed_cancelled_or_crashed_run_starts_nothing(chain, finish):
    for state, reason in ((RunState.FAILED, RunReason.USER_ERROR), (RunState.CRASHED, RunReason.WORKER_LOST),
                          (RunState.TIMED_OUT, RunReason.TIMEOUT)):
        a_run = finish(runs.run_trigger(actor=None, deployment=chain["a"]), state, reason)
        assert downstream_of(a_run) == [] and skipped(a_run) == []
    cancelled = runs.run_cancel(actor=None, run=runs.run_trigger(actor=None, deployment=chain["a"]))
    assert cancelled.state == "CANCELLED" and downstream_of(cancelled) == []
    assert not Run.objects.filter(deployment=chain["b"]).exists()


def test_a_second_delivery_of_the_end_starts_nothing_more(chain, finish):
    a_run = finish(runs.run_trigger(actor=None, deployment=chain["a"]))
    for _ in range(2):
        run_ended.send_robust(sender=Run, run_id=a_run.pk)
    assert len(downstream_of(a_run)) == 1


def test_a_retry_that_succeeds_triggers_where_the_failed_attempt_did_not(tenant_a, finish):
    deploy(tenant_a.project, "b")
    a = deploy(tenant_a.project, "a", retries=1, triggers={"on_success": ["b"]})
    first = finish(runs.run_trigger(actor=None, deployment=a), RunState.FAILED, RunReason.USER_ERROR)
    assert downstream_of(first) == []
    retry = Run.objects.get(retry_of=first)
    finish(retry)
    (b_run,) = downstream_of(retry)
    assert b_run.upstream_run == retry


def test_each_environment_triggers_the_deployment_of_its_own_name(tenant_a, finish):
    deploy(tenant_a.project, "b", "test")
    b_production = deploy(tenant_a.project, "b", "production")
    a_production = deploy(tenant_a.project, "a", "production", triggers={"on_success": ["b"]})
    (b_run,) = downstream_of(finish(runs.run_trigger(actor=None, deployment=a_production)))
    assert b_run.deployment == b_production


def test_environment_overrides_of_on_success_apply(tenant_a, finish):
    deploy(tenant_a.project, "b")
    deploy(tenant_a.project, "c")
    a = deploy(tenant_a.project, "a", triggers={"on_success": ["b"]},
               environments={"test": {"triggers": {"on_success": ["c"]}}})
    (started,) = downstream_of(finish(runs.run_trigger(actor=None, deployment=a)))
    assert started.deployment.workflow.name == "c"


def test_a_target_that_cannot_run_is_written_on_the_upstream_run_and_audited(tenant_a, finish):
    Workflow.objects.create(project=tenant_a.project, name="undeployed")
    deploy(tenant_a.project, "sleepy")
    Deployment.objects.filter(workflow__name="sleepy").update(is_paused=True)
    a = deploy(tenant_a.project, "a", triggers={"on_success": ["missing", "undeployed", "sleepy"]})
    a_run = finish(runs.run_trigger(actor=None, deployment=a))
    assert downstream_of(a_run) == []
    reasons = {event.after["target"]: event.after["reason"] for event in skipped(a_run)}
    assert reasons == {"missing": "workflow_missing", "undeployed": "nothing_deployed", "sleepy": "paused"}
    lines = system_lines(a_run)
    assert len(lines) == 3
    assert "Downstream workflow 'missing' was not started: project 'alpha-main' has no workflow 'missing'." in lines
    assert any("'undeployed'" in line and "nothing" in line and "deployed to 'test'" in line for line in lines)
    assert all(event.project == tenant_a.project for event in skipped(a_run))
    run_ended.send_robust(sender=Run, run_id=a_run.pk)
    assert len(system_lines(a_run)) == 3 and len(skipped(a_run)) == 3, "said once, not at every delivery"


def test_an_environment_the_target_project_lacks_is_said(tenant_a, finish):
    other = tenant_a.empty_project
    trigger_grant_create(actor=tenant_a.admin, project=other, upstream_project=tenant_a.project)
    deploy(other, "b")
    a = deploy(tenant_a.project, "a", "production", triggers={"on_success": [f"{other.slug}/b"]})
    Environment.objects.filter(project=other, name="production").delete()
    a_run = finish(runs.run_trigger(actor=None, deployment=a))
    (event,) = skipped(a_run)
    assert event.after["reason"] == "environment_missing"
    assert "has no environment 'production'" in system_lines(a_run)[0]


def test_another_project_is_triggered_only_once_its_admin_granted_it(tenant_a, finish):
    downstream_project = tenant_a.empty_project
    b = deploy(downstream_project, "b")
    a = deploy(tenant_a.project, "a", triggers={"on_success": [f"{downstream_project.slug}/b"]})

    refused = finish(runs.run_trigger(actor=None, deployment=a))
    assert downstream_of(refused) == []
    (event,) = skipped(refused)
    assert event.after["reason"] == "not_granted" and event.project == tenant_a.project
    (line,) = system_lines(refused)
    assert f"project '{downstream_project.slug}' does not exist or has not allowed project 'alpha-main'" in line

    trigger_grant_create(actor=tenant_a.admin, project=downstream_project, upstream_project=tenant_a.project)
    allowed = finish(runs.run_trigger(actor=None, deployment=a))
    (b_run,) = downstream_of(allowed)
    assert b_run.deployment == b and b_run.trigger == "upstream"
    assert AuditEvent.objects.get(action="run.triggered", object_id=str(b_run.pk)).project == downstream_project


def test_a_project_that_does_not_exist_reads_like_one_that_did_not_grant(tenant_a, tenant_b, finish):
    deploy(tenant_b.project, "b")
    a = deploy(tenant_a.project, "a", triggers={"on_success": [f"{tenant_b.project.slug}/b", "nowhere/b"]})
    a_run = finish(runs.run_trigger(actor=None, deployment=a))
    assert downstream_of(a_run) == []
    lines = system_lines(a_run)
    assert len(lines) == 2
    assert len({line.replace(tenant_b.project.slug, "P").replace("nowhere", "P") for line in lines}) == 1
    assert {event.after["reason"] for event in skipped(a_run)} == {"not_granted"}


def test_a_loop_that_appears_after_registration_stops_at_run_time(tenant_a, finish):
    """main/a → empty/b counts only once granted, so registering b → main/a was allowed; the grant closes a loop."""
    main, other = tenant_a.project, tenant_a.empty_project
    allow(main, upstream=other, actor=tenant_a.admin)
    a = deploy(main, "a", triggers={"on_success": [f"{other.slug}/b"]})
    deploy(other, "b", triggers={"on_success": [f"{main.slug}/a"]})
    trigger_grant_create(actor=tenant_a.admin, project=other, upstream_project=main)

    a_run = finish(runs.run_trigger(actor=None, deployment=a))
    (b_run,) = downstream_of(a_run)
    finish(b_run)
    assert downstream_of(b_run) == []
    (event,) = skipped(b_run)
    assert event.after["reason"] == "cycle"
    (line,) = system_lines(b_run)
    assert f"starting {main.slug}/a again would loop: {main.slug}/a → b → {main.slug}/a" in line


def test_the_downstream_container_is_told_the_upstream_run_and_the_tick(chain, finish):
    from controlplane.runs.launcher import launch_spec

    a_run = finish(runs.run_trigger(actor=None, deployment=chain["a"], scheduled_for=TICK))
    (b_run,) = downstream_of(a_run)
    env = launch_spec(b_run, "fyr_token", {}).environment
    assert env["FLOWYARD_UPSTREAM_RUN_ID"] == str(a_run.pk)
    assert env["FLOWYARD_SCHEDULED_FOR"] == TICK.isoformat()
    assert "FLOWYARD_UPSTREAM_RUN_ID" not in launch_spec(a_run, "fyr_token", {}).environment
