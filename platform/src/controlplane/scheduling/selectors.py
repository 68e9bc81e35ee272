"""Reads of schedules, scoped to the user's projects."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.deployments.models import Deployment
from controlplane.deployments.selectors import deployment_list


def schedule_list(*, user: object) -> QuerySet[Deployment]:
    """Deployments the user can see, with their scheduler state: a schedule is read per deployment."""
    return deployment_list(user=user).select_related("schedule_state", "version", "workflow")
