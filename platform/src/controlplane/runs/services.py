"""Writes to runs: trigger and cancel; launching is the launch task's, sent by name after commit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment
from controlplane.runs import lifecycle
from controlplane.runs.errors import NothingDeployed, RuntimeUnavailable
from controlplane.runs.models import Run
from controlplane.runs.queue import CANCEL_RUN, LAUNCH_RUN, enqueue_run_task
from controlplane.runtimes.selectors import RUNTIME_KEY, RuntimeKindUnavailable, requested_runtime, target_for_run_config
from controlplane.workflows.configs import version_config
from flowyard_spec.api import fill_time_templates
from flowyard_spec.states import RunReason, RunState, TriggerKind

logger = logging.getLogger(__name__)


def resolve_parameters(
    declared: dict[str, Any], given: dict[str, Any], *, logical_time: datetime | None = None
) -> dict[str, Any]:
    """The run's parameters: the declared defaults overridden by `given`; unknown names are refused.

    A value that is exactly "{{ scheduled_time }}" or "{{ scheduled_date }}" becomes the run's logical time
    (UTC, ISO 8601), so a flow's `date` parameter can default to the tick it runs for.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise ValidationFailed(
            {"parameters": [f"Unknown parameter(s) {', '.join(unknown)}; this workflow declares: {allowed}."]}
        )
    return fill_time_templates({**declared, **given}, logical_time or timezone.now())


def declared_parameters(deployment: Deployment) -> dict[str, Any]:
    """The parameters the deployed version declares in the deployment's environment (overrides merged)."""
    return version_config(deployment.version, deployment.environment.config_name).parameters


CALLER_WAITS = frozenset({TriggerKind.MANUAL, TriggerKind.API, TriggerKind.WEBHOOK})
"""Triggers whose caller waits for the answer, so a run that cannot launch is refused before it is created."""


@transaction.atomic
def run_trigger(
    *, actor: Any, deployment: Deployment, parameters: dict[str, Any] | None = None,
    trigger: TriggerKind = TriggerKind.MANUAL, scheduled_for: datetime | None = None,
    upstream_run: Run | None = None, backfill: Any = None,
) -> Run:
    """Queue a run of the version currently deployed in `deployment`.

    Every way of starting a run comes here: by hand, the API, the scheduler (`scheduled_for` is the tick), a
    backfill, a webhook, or an upstream run's success (`upstream_run`). A second scheduled run for the same
    tick raises IntegrityError from the `one_run_per_schedule_tick` constraint; callers that race expect it.
    """
    if deployment.version is None:
        raise NothingDeployed(
            f"Nothing is deployed to {deployment}; deploy a version before triggering a run.", code="nothing_deployed"
        )
    if trigger in CALLER_WAITS:
        _refuse_unservable_runtime(deployment)
    user, label = actor_user_and_label(actor)
    run = Run.objects.create(
        deployment=deployment,
        version=deployment.version,
        state=RunState.QUEUED,
        trigger=trigger.value,
        triggered_by=user,
        triggered_by_label=label,
        parameters=resolve_parameters(declared_parameters(deployment), parameters or {}, logical_time=scheduled_for),
        scheduled_for=scheduled_for,
        upstream_run=upstream_run,
        backfill=backfill,
    )
    audit_record(actor=actor, action="run.triggered", obj=run, after=snapshot(run), project=deployment.environment.project)
    transaction.on_commit(lambda: enqueue_run_task(LAUNCH_RUN, run.pk))
    return run


def _refuse_unservable_runtime(deployment: Deployment) -> None:
    """RuntimeUnavailable when the deployed config's cloud-execution-environment has no target in the environment.

    The launcher refuses such a run too (it ends FAILED, the refusal in its message); a caller who waits for the answer (a
    person, a script, a webhook sender) hears it now instead, and no run is created. Schedules, backfills,
    retries and upstream triggers have nobody waiting, so their runs are created and fail visibly at launch."""
    environment, config = deployment.environment, deployment.version.config
    runtime = requested_runtime(config, environment.config_name)
    if runtime is None:
        return  # the environment's own target runs it; the launcher reports a missing one
    try:
        target_for_run_config(environment, config)
    except RuntimeKindUnavailable as refusal:
        raise RuntimeUnavailable(str(refusal), extra={
            "field": RUNTIME_KEY, "value": runtime, "environment": environment.name,
        }) from None


@transaction.atomic
def run_cancel(*, actor: Any, run: Run) -> Run:
    """Cancel a run: at once if nothing was launched, otherwise ask the runtime to stop it (CANCELLING)."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    current = RunState(run.state)
    if current == RunState.CANCELLING:
        return run  # already asked; asking twice changes nothing
    before = snapshot(run)
    target = RunState.CANCELLED if current in {RunState.SCHEDULED, RunState.QUEUED} else RunState.CANCELLING
    _, label = actor_user_and_label(actor)
    lifecycle.transition(run, target, reason=RunReason.CANCELLED, message=f"Cancelled by {label}.")
    run.save()
    audit_record(
        actor=actor, action="run.cancelled", obj=run, before=before, after=snapshot(run),
        project=run.deployment.environment.project,
    )
    if target == RunState.CANCELLING:
        transaction.on_commit(lambda: enqueue_run_task(CANCEL_RUN, run.pk))
    return run
