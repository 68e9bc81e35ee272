"""Scheduling models."""

from controlplane.scheduling.models.backfills import Backfill, BackfillState, Reprocess
from controlplane.scheduling.models.grants import TriggerGrant
from controlplane.scheduling.models.schedules import ScheduleState
from controlplane.scheduling.models.webhooks import DeploymentWebhook, WebhookDelivery

__all__ = [
    "Backfill", "BackfillState", "DeploymentWebhook", "Reprocess", "ScheduleState", "TriggerGrant", "WebhookDelivery",
]
