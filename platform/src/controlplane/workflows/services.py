"""Writes to workflows and versions."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.tenancy.models import Project
from controlplane.workflows.errors import WorkflowHasVersions
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import config_hash


@transaction.atomic
def workflow_create(*, actor: Any, project: Project, name: str, description: str = "") -> Workflow:
    """Create a workflow in a project."""
    workflow = Workflow.objects.create(project=project, name=name, description=description)
    audit_record(actor=actor, action="workflow.created", obj=workflow, after=snapshot(workflow), project=project)
    return workflow


@transaction.atomic
def workflow_update(*, actor: Any, workflow: Workflow, description: str) -> Workflow:
    """Change a workflow's description (its name is fixed by its repository)."""
    before = snapshot(workflow)
    workflow.description = description
    workflow.save(update_fields=["description", "updated_at"])
    audit_record(
        actor=actor, action="workflow.updated", obj=workflow, before=before, after=snapshot(workflow),
        project=workflow.project,
    )
    return workflow


@transaction.atomic
def workflow_delete(*, actor: Any, workflow: Workflow) -> None:
    """Delete a workflow that has no registered versions."""
    if workflow.versions.exists():
        raise WorkflowHasVersions(
            f"Workflow {workflow} has registered versions and runs; they are kept for the record. "
            "Pause its deployments instead.",
            code="workflow_has_versions",
        )
    audit_record(actor=actor, action="workflow.deleted", obj=workflow, before=snapshot(workflow), project=workflow.project)
    workflow.delete()


@transaction.atomic
def version_register(
    *, actor: Any, workflow: Workflow, image_digest: str, config: dict[str, Any], **fields: Any
) -> tuple[WorkflowVersion, bool]:
    """Record a built image of `workflow` with the (valid) config it was built from; the same digest again
    returns the existing version. A config whose triggers would close a loop is refused (ValidationFailed)."""
    existing = WorkflowVersion.objects.filter(workflow=workflow, image_digest=image_digest).first()
    if existing is not None:
        return existing, False
    from controlplane.scheduling.trigger_graph import check_trigger_cycles

    check_trigger_cycles(workflow.project, workflow.name, config)
    user, label = actor_user_and_label(actor)
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        image_digest=image_digest,
        config=config,
        config_hash=config_hash(config),
        registered_by=user,
        registered_by_label=label,
        **fields,
    )
    audit_record(actor=actor, action="version.registered", obj=version, after=snapshot(version), project=workflow.project)
    return version, True
