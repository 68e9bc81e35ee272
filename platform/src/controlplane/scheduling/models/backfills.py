"""A backfill: one run per schedule tick of a past range, at most `max_active` at a time."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class BackfillState(models.TextChoices):
    """A backfill is RUNNING until every tick is handled (COMPLETED) or someone cancels it (CANCELLED)."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Reprocess(models.TextChoices):
    """Which ticks that already have a run are run again."""

    NONE = "none", "none: skip every tick that already has a run"
    FAILED = "failed", "failed: run again ticks whose last run did not succeed"
    ALL = "all", "all: run every tick again (not one with a run in flight)"


class Backfill(UUIDModel):
    """Runs of a deployment for the ticks of [start, end], created as earlier ones end."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="backfills")
    state = models.CharField(max_length=10, choices=BackfillState.choices, default=BackfillState.RUNNING,
                             db_index=True)
    start = models.DateTimeField(help_text="First instant of the range (inclusive).")
    end = models.DateTimeField(help_text="Last instant of the range (inclusive).")
    ticks = models.JSONField(default=list, help_text="The schedule's ticks in the range, ISO 8601 UTC, ascending.")
    next_index = models.PositiveIntegerField(default=0, help_text="Ticks before this index have been handled.")
    max_active = models.PositiveSmallIntegerField(default=1, help_text="Most runs of this backfill live at once.")
    reprocess = models.CharField(max_length=8, choices=Reprocess.choices, default=Reprocess.NONE)
    parameters = models.JSONField(default=dict, blank=True, help_text="Parameter overrides for every run.")
    skipped_ticks = models.PositiveIntegerField(default=0, help_text="Ticks not run because of `reprocess`.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"backfill {self.pk} of {self.deployment_id}"
