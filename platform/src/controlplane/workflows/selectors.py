"""Reads of workflows and versions, scoped to the user's projects."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.tenancy.selectors import project_list
from controlplane.workflows.models import Workflow, WorkflowVersion


def workflow_list(*, user: object) -> QuerySet[Workflow]:
    """Workflows of the projects the user can see."""
    return Workflow.objects.filter(project__in=project_list(user=user)).select_related("project")


def version_list(*, user: object) -> QuerySet[WorkflowVersion]:
    """Versions of the workflows the user can see, newest first."""
    return WorkflowVersion.objects.filter(workflow__project__in=project_list(user=user)).select_related(
        "workflow__project"
    )
