"""A request to move the exact version that ran in one environment to the next one."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class PromotionState(models.TextChoices):
    """Where a promotion request stands; only PENDING ones can change."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Promotion(UUIDModel):
    """Promote `version` of `workflow` from `source_environment` to `target_environment`, once approved."""

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="promotions")
    version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="promotions")
    source_environment = models.ForeignKey(
        "deployments.Environment", on_delete=models.PROTECT, related_name="promotions_out"
    )
    target_environment = models.ForeignKey(
        "deployments.Environment", on_delete=models.PROTECT, related_name="promotions_in"
    )
    state = models.CharField(max_length=10, choices=PromotionState.choices, default=PromotionState.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=200)
    requested_for = models.CharField(
        max_length=200, blank=True, help_text="The author of the change (e.g. the merge request's author)."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    merge_request_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "target_environment"],
                condition=models.Q(state="PENDING"),
                name="one_pending_promotion_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow} {self.source_environment.name}→{self.target_environment.name}"
