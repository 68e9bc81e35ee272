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
            # One pending promotion per target and merge request: a request made without one ("") is alone per
            # target, as before; each open merge request may have its own.
            models.UniqueConstraint(
                fields=["workflow", "target_environment", "merge_request_url"],
                condition=models.Q(state="PENDING"),
                name="one_pending_promotion_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow} {self.source_environment.name}→{self.target_environment.name}"


class PromotionApproval(models.Model):
    """One approver's yes to a promotion, given through the API; a promotion is approved (and deployed) once it
    has its target environment's `required_approvals`. Merge-request approvals are counted by the gitops app."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["promotion", "user"], name="one_approval_per_person")]

    def __str__(self) -> str:
        return f"approval of {self.promotion_id} by {self.user_id}"
