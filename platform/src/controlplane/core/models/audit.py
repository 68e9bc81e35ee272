"""The audit log: one row per write, who did it, to what, and what changed."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One write to Flowyard's state, as recorded by the service that made it."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted: a username, or a CI token's name.")
    action = models.CharField(max_length=100, db_index=True, help_text="What happened, e.g. run.triggered.")
    object_type = models.CharField(max_length=100, help_text="app_label.model of the object written.")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    team = models.ForeignKey("tenancy.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    project = models.ForeignKey(
        "tenancy.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"
