"""Receivers of tenancy signals: every new project gets its default environments."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from controlplane.deployments.models import Environment
from controlplane.deployments.services import environments_create_defaults
from controlplane.tenancy.models import Project
from controlplane.tenancy.signals import project_created


@receiver(project_created, sender=Project, dispatch_uid="deployments.environments_for_new_project")
def environments_for_new_project(sender: type, project: Project, **kwargs: Any) -> list[Environment]:
    """Create `test` and `production` for the project, in its creating transaction."""
    return environments_create_defaults(project=project)
