"""Where each deployment's schedule stands: the last tick handled, and what was skipped after downtime."""

from django.db import models


class ScheduleState(models.Model):
    """The scheduler's cursor for one deployment: every tick up to `cursor` has been fired or skipped.

    The schedule itself is not stored here: it is read from the deployed version's effective config, so a
    new version changes it at once. A null cursor means "start from now" (new, paused, or disabled).
    """

    deployment = models.OneToOneField(
        "deployments.Deployment", on_delete=models.CASCADE, primary_key=True, related_name="schedule_state"
    )
    cursor = models.DateTimeField(null=True, blank=True, help_text="The last tick fired or skipped.")
    last_fired_for = models.DateTimeField(null=True, blank=True, help_text="The last tick a run was created for.")
    skipped_total = models.PositiveIntegerField(default=0, help_text="Ticks skipped after downtime, all time.")
    last_skip = models.JSONField(
        null=True, blank=True,
        help_text="The last catch-up decision that skipped ticks: policy, count, first, last, decided_at.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"schedule of {self.deployment_id} at {self.cursor}"
