"""Writes to workflows (versions are written by registration, the one path: registration/services.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controlplane.core.audit import audit_record, snapshot
from controlplane.tenancy.models import Project
from controlplane.workflows.errors import WorkflowHasVersions
from controlplane.workflows.models import Workflow


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
