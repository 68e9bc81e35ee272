"""Upstream triggers: when a run succeeds, start the workflows its config names in `triggers.on_success`.

Each target ('workflow' of the same project, or 'project/workflow' of a project whose admin granted it) runs in
the environment with the same name as the upstream run's, with its declared default parameters, the upstream
run's schedule tick, and `upstream_run` set. Anything that prevents a downstream run is written on the upstream
run's log and audited as `run.downstream_skipped`; nothing is skipped silently.
"""

from __future__ import annotations

import logging
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.core.audit import SystemActor, audit_record
from controlplane.core.errors import FlowyardError
from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Deployment, Environment
from controlplane.runs.lifecycle import ended_run
from controlplane.runs.log_lines import store_system_lines
from controlplane.runs.models import Run
from controlplane.runs.services import run_trigger
from controlplane.scheduling.grants import granted_project
from controlplane.tenancy.models import Project
from controlplane.workflows.configs import run_config
from controlplane.workflows.models import Workflow
from flowyard_spec.config import TRIGGER_TARGET_PATTERN
from flowyard_spec.states import RunState, TriggerKind

logger = logging.getLogger(__name__)

SKIPPED_ACTION = "run.downstream_skipped"
MAX_CHAIN = 1000  # upstream links followed when looking for a loop; chains are acyclic by construction


class Skip(Exception):
    """Why a target of `on_success` gets no run: a stable code and a sentence for the upstream run's log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def split_target(target: str) -> tuple[str | None, str]:
    """'project/workflow' → ('project', 'workflow'); 'workflow' → (None, 'workflow')."""
    match = TRIGGER_TARGET_PATTERN.match(target)
    if match is None:  # the config schema refuses these, so a stored config never has one
        raise Skip("invalid_target", f"{target!r} is not a workflow name")
    return match.group("project"), match.group("workflow")


def target_project(upstream: Project, project_slug: str | None) -> Project:
    """The project a target names, if `upstream` may trigger it (same project, or a TriggerGrant); else Skip.

    A project that does not exist and one that has not granted read the same, so an upstream project learns
    nothing about projects it was not allowed into.
    """
    project = granted_project(upstream, project_slug)
    if project is None:
        raise Skip("not_granted", f"project {project_slug!r} does not exist or has not allowed project "
                                  f"{upstream.slug!r} to trigger its workflows; an admin of {project_slug!r} can add "
                                  f"a trigger grant (POST /api/v1/trigger-grants/)")
    return project


def target_deployment(run: Run, target: str) -> Deployment:
    """The deployment `target` names in the environment named like `run`'s, ready to run; else Skip."""
    project_slug, name = split_target(target)
    upstream_environment = run.deployment.environment
    project = target_project(upstream_environment.project, project_slug)
    workflow = Workflow.objects.filter(project=project, name=name).first()
    if workflow is None:
        raise Skip("workflow_missing", f"project {project.slug!r} has no workflow {name!r}")
    environment = Environment.objects.filter(project=project, name=upstream_environment.name).first()
    if environment is None:
        raise Skip("environment_missing",
                   f"project {project.slug!r} has no environment {upstream_environment.name!r} to run {name!r} in")
    deployment = Deployment.objects.select_related("version", "environment__project__team", "workflow").filter(
        workflow=workflow, environment=environment).first()
    if deployment is None or deployment.version_id is None:
        raise Skip("nothing_deployed", f"nothing of {target!r} is deployed to {environment.name!r}")
    if deployment.is_paused:
        raise Skip("paused", f"the deployment of {target!r} in {environment.name!r} is paused")
    return deployment


def node_label(deployment: Deployment, home: Project) -> str:
    """A workflow's name as seen from `home`: bare in its own project, 'project/workflow' elsewhere."""
    project = deployment.environment.project
    name = deployment.workflow.name
    return name if project.pk == home.pk else f"{project.slug}/{name}"


def check_no_loop(run: Run, deployment: Deployment) -> None:
    """Skip when `deployment` already ran in `run`'s upstream chain: starting it again would loop forever.

    Registration refuses cycles, but one can still appear later (a promotion, a new grant), so this is checked
    on every start.
    """
    chain: list[Run] = []
    current: Run | None = run
    while current is not None and len(chain) < MAX_CHAIN:
        chain.append(current)
        if current.deployment_id == deployment.pk:
            home = run.deployment.environment.project
            names = [node_label(link.deployment, home) for link in reversed(chain)]
            raise Skip("cycle", f"starting {names[0]} again would loop: {' → '.join([*names, names[0]])}")
        current = (Run.objects.select_related("deployment__workflow", "deployment__environment__project")
                   .filter(pk=current.upstream_run_id).first() if current.upstream_run_id else None)


def already_handled(run: Run, target: str, deployment: Deployment | None = None) -> bool:
    """Whether an earlier delivery of this run's end already started or skipped `target`."""
    if deployment is not None and Run.objects.filter(upstream_run=run, deployment=deployment,
                                                     retry_of__isnull=True).exists():
        return True
    return AuditEvent.objects.filter(action=SKIPPED_ACTION, object_id=str(run.pk), after__target=target).exists()


def record_skip(run: Run, target: str, skip: Skip) -> None:
    """Write why `target` got no run on the upstream run's log and in the audit log (once per target)."""
    with transaction.atomic():
        if already_handled(run, target):
            return
        message = f"Downstream workflow {target!r} was not started: {skip.message}."
        store_system_lines(run, [(timezone.now(), "system", message)])
        audit_record(actor=SystemActor(f"upstream-run:{run.pk}"), action=SKIPPED_ACTION, obj=run,
                     after={"target": target, "reason": skip.code, "message": message},
                     project=run.deployment.environment.project)
    logger.info("run %s: %s", run.pk, message)


def start_downstream_run(run: Run, target: str) -> Run | None:
    """Start `target` after `run` succeeded; None when it was started before or could not be (then recorded)."""
    try:
        deployment = target_deployment(run, target)
        if already_handled(run, target, deployment):
            return None
        check_no_loop(run, deployment)
        try:  # run_trigger is atomic: a second delivery hits the constraint and creates nothing
            return run_trigger(actor=SystemActor(f"upstream-run:{run.pk}"), deployment=deployment,
                               trigger=TriggerKind.UPSTREAM, upstream_run=run, scheduled_for=run.scheduled_for)
        except IntegrityError:
            return None
    except Skip as skip:
        record_skip(run, target, skip)
    except FlowyardError as error:  # e.g. the deployed version's parameters cannot be resolved
        record_skip(run, target, Skip(error.code, error.message.rstrip('.')))
    return None


def start_downstream_runs(run_id: object, *, run: Run | None = None) -> list[Run]:
    """After a run ended: if it SUCCEEDED, start every workflow its effective config names in on_success.

    `run`, when given, is the committed run with its version, deployment's workflow and environment, project and
    team loaded (as `run_ended` sends it); otherwise it is read."""
    run = run if run is not None else ended_run(run_id)
    if run is None or run.state != RunState.SUCCEEDED:
        return []  # failed, cancelled, timed out and crashed runs trigger nothing
    started = []
    for target in run_config(run).triggers.on_success:
        downstream = start_downstream_run(run, target)
        if downstream is not None:
            started.append(downstream)
            logger.info("run %s succeeded: started %s (%s) as run %s", run.pk, target,
                        downstream.deployment.environment.name, downstream.pk)
    return started
