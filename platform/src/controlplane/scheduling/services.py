"""Writes to schedules: pause and resume a deployment's schedule."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controlplane.deployments.models import Deployment
from controlplane.deployments.services import deployment_update
from controlplane.scheduling.models import ScheduleState


@transaction.atomic
def schedule_pause(*, actor: Any, deployment: Deployment) -> Deployment:
    """Stop the deployment's schedule from creating runs (manual, webhook and upstream runs still start).
    Pausing a paused schedule changes nothing but is still recorded, like every write."""
    return deployment_update(actor=actor, deployment=deployment, is_paused=True)


@transaction.atomic
def schedule_resume(*, actor: Any, deployment: Deployment) -> Deployment:
    """Start the schedule again from now: ticks that fell while it was paused are not replayed."""
    if deployment.is_paused:
        ScheduleState.objects.filter(deployment=deployment).update(cursor=None)
    return deployment_update(actor=actor, deployment=deployment, is_paused=False)
