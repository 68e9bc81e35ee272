"""Which builds and approvals count for a merge request's promotion: this project's CI build of exactly the head
commit, and approvals of that commit by matched approvers who neither opened the merge request nor wrote it."""

from __future__ import annotations

from controlplane.gitops.identities import author_users
from controlplane.gitops.models import MergeRequestApproval, MergeRequestPromotion
from controlplane.tenancy.roles import has_role
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.states import Role


def ci_build_of(workflow: Workflow, sha: str) -> WorkflowVersion | None:
    """The version this project's CI registered from commit `sha` (a person's or another project's never counts)."""
    return WorkflowVersion.objects.filter(
        workflow=workflow, git_commit_sha=sha, registered_by__isnull=True,
        registered_by_label__startswith="ci-token:", registered_by_label__endswith=f"@{workflow.project.slug}",
    ).order_by("created_at").first()


def counts_for(approval: MergeRequestApproval, mrp: MergeRequestPromotion) -> str:
    """"counted", or why this approval does not count for this promotion."""
    merge_request, forge = mrp.merge_request, mrp.merge_request.link.forge
    if approval.dismissed_at is not None:
        return f"dismissed ({approval.dismissed_because})"
    if approval.head_sha != mrp.head_sha:
        return f"for commit {approval.head_sha[:8]}, not the head {mrp.head_sha[:8]}"
    user = approval.user
    if user is None:
        return f"{approval.forge_username} is not matched to a Flowyard user"
    if not has_role(user, merge_request.link.project, Role.APPROVER):
        return f"{user.get_username()} is not an approver of project {merge_request.link.project.slug}"
    if approval.forge_username == merge_request.author.lower() or user in author_users(forge, merge_request.author):
        return f"{user.get_username()} opened the merge request (four eyes: another approver must approve)"
    version = mrp.promotion.version if mrp.promotion else ci_build_of(mrp.workflow, mrp.head_sha)
    if version is not None and user in author_users(forge, version.git_author):
        return f"{user.get_username()} wrote the change (four eyes: another approver must approve)"
    return "counted"


def counted_approvals(mrp: MergeRequestPromotion) -> list[MergeRequestApproval]:
    """The approvals that count for `mrp`, one per person."""
    counted, people = [], set()
    for approval in mrp.merge_request.approvals.filter(dismissed_at__isnull=True).select_related("user"):
        if counts_for(approval, mrp) == "counted" and approval.user_id not in people:
            counted.append(approval)
            people.add(approval.user_id)
    return counted
