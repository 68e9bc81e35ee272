"""Registering versions in tests through the one registration path, as POST /api/v1/versions/ does."""

from __future__ import annotations

from typing import Any

from controlplane.registration.services import version_register
from controlplane.workflows.models import Workflow, WorkflowVersion


def register_version(*, workflow: Workflow, actor: Any = None, **build: Any) -> WorkflowVersion:
    """Register a build of an existing workflow (image_ref, image_digest, config, git fields); no deploy."""
    return version_register(
        actor=actor, project=workflow.project, workflow_name=workflow.name, deploy=False, **build
    ).version
