"""Merge requests of linked repositories, their approvals, and the promotion each drives per workflow."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class MergeRequestState(models.TextChoices):
    """Where a merge request stands on the forge."""

    OPENED = "opened"
    MERGED = "merged"
    CLOSED = "closed"


class MergeRequest(UUIDModel):
    """A merge (pull) request of a linked repository, as its webhooks describe it."""

    link = models.ForeignKey("gitops.RepositoryLink", on_delete=models.CASCADE, related_name="merge_requests")
    iid = models.PositiveIntegerField(help_text="The number of the merge request in its repository.")
    url = models.URLField(max_length=500)
    title = models.CharField(max_length=500, blank=True)
    author = models.CharField(max_length=255, help_text="The forge login of who opened it.")
    source_branch = models.CharField(max_length=255)
    target_branch = models.CharField(max_length=255)
    head_sha = models.CharField(max_length=64)
    from_fork = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=MergeRequestState.choices, default=MergeRequestState.OPENED)
    comment_id = models.CharField(max_length=64, blank=True, help_text="Flowyard's comment on the merge request.")

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["link", "iid"], name="one_merge_request_per_number")]

    def __str__(self) -> str:
        return f"{self.link}!{self.iid}"


class MergeRequestApproval(models.Model):
    """A forge user's approval of a merge request at one head commit; dismissed by a new commit or an unapproval.
    It counts for a promotion only if the forge user is matched to an approver who is not the change's author."""

    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="approvals")
    forge_username = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="The matched person, if any.")
    head_sha = models.CharField(max_length=64, help_text="The commit it approved.")
    approved_at = models.DateTimeField(auto_now_add=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_because = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["approved_at", "id"]

    def __str__(self) -> str:
        return f"approval of {self.merge_request} by {self.forge_username}"


class Condition(models.TextChoices):
    """Where a merge request's promotion of one workflow stands."""

    AWAITING_BUILD = "awaiting_build"  # CI has not registered the head commit's build yet
    PENDING = "pending"  # a Promotion waits for approvals and the merge
    PROMOTED = "promoted"  # merged with enough approvals: deployed to production
    REJECTED = "rejected"  # merged without approvals, or closed
    SUPERSEDED = "superseded"  # a newer head commit replaced it


class MergeRequestPromotion(UUIDModel):
    """The promotion test → production of one workflow, driven by one merge request at one head commit."""

    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="promotions")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="+")
    head_sha = models.CharField(max_length=64)
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.AWAITING_BUILD)
    promotion = models.OneToOneField("deployments.Promotion", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="merge_request_promotion")
    reason = models.TextField(blank=True, help_text="Why it is in its condition, in words.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["merge_request", "workflow", "head_sha"],
                                               name="one_promotion_per_merge_request_head")]

    def __str__(self) -> str:
        return f"{self.merge_request} {self.workflow_id}@{self.head_sha[:8]}"


class ForgeReport(models.Model):
    """One attempt to tell the forge about a merge request (commit status, comment): kept so failures are visible."""

    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=20, help_text="status or comment")
    ok = models.BooleanField(default=False)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} report on {self.merge_request_id}: {'ok' if self.ok else 'failed'}"
