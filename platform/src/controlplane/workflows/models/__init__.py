"""Workflow models."""

from controlplane.workflows.models.workflows import Workflow, WorkflowVersion

__all__ = ["Workflow", "WorkflowVersion"]
