"""Writes to runs: trigger and cancel (launching on a runtime comes with the runtime backends)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment
from controlplane.runs import lifecycle
from controlplane.runs.errors import NothingDeployed
from controlplane.runs.models import Run
from flowyard_spec.states import RunReason, RunState, TriggerKind

logger = logging.getLogger(__name__)


def resolve_parameters(declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters: the declared defaults overridden by `given`; unknown names are refused."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise ValidationFailed(
            {"parameters": [f"Unknown parameter(s) {', '.join(unknown)}; this workflow declares: {allowed}."]}
        )
    return {**declared, **given}


@transaction.atomic
def run_trigger(
    *, actor: Any, deployment: Deployment, parameters: dict[str, Any] | None = None,
    trigger: TriggerKind = TriggerKind.MANUAL,
) -> Run:
    """Queue a run of the version currently deployed in `deployment`."""
    if deployment.version is None:
        raise NothingDeployed(
            f"Nothing is deployed to {deployment}; deploy a version before triggering a run.", code="nothing_deployed"
        )
    declared = deployment.version.config.get("parameters") or {}
    user, label = actor_user_and_label(actor)
    run = Run.objects.create(
        deployment=deployment,
        version=deployment.version,
        state=RunState.QUEUED,
        trigger=trigger.value,
        triggered_by=user,
        triggered_by_label=label,
        parameters=resolve_parameters(declared, parameters or {}),
    )
    audit_record(actor=actor, action="run.triggered", obj=run, after=snapshot(run), project=deployment.environment.project)
    transaction.on_commit(lambda: enqueue_run_task("launch_run", run.pk))
    return run


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
        transaction.on_commit(lambda: enqueue_run_task("cancel_run", run.pk))
    return run


def enqueue_run_task(task_name: str, run_id: Any) -> None:
    """Send a run task to the broker; if the broker is down the reconciler catches up, so only log it."""
    from controlplane.runs import tasks

    try:
        getattr(tasks, task_name).delay(str(run_id))
    except Exception:  # noqa: BLE001 - a broker outage must not fail the request that already committed
        logger.exception("could not enqueue %s for run %s; the reconciler will pick it up", task_name, run_id)
