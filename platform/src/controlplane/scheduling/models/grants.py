"""Cross-project upstream triggers, allowed by the downstream project's admin."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class TriggerGrant(UUIDModel):
    """`project` lets workflows of `upstream_project` start its workflows through `triggers.on_success`."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="trigger_grants")
    upstream_project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["project__slug", "upstream_project__slug"]
        constraints = [
            models.UniqueConstraint(fields=["project", "upstream_project"], name="one_grant_per_project_pair"),
            models.CheckConstraint(condition=~models.Q(project=models.F("upstream_project")), name="grant_not_to_self"),
        ]

    def __str__(self) -> str:
        return f"{self.upstream_project} may trigger {self.project}"
