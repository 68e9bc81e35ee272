"""Merge requests drive promotions: `apply_event(link=…, event=…)` applies one verified forge event.

- Opened or updated (a new head commit): the merge request is recorded; approvals of earlier commits are
  dismissed (stale approvals never promote new code) and their promotions superseded; for each workflow the
  repository holds, a `MergeRequestPromotion` of the head commit is made. It waits (`awaiting_build`) until CI
  has registered the build of exactly that commit with this project's CI token, then a Promotion test →
  production of that version is requested (PENDING), from where it ran (the merge request's preview, or test).
- Approved / unapproved: recorded per forge user and commit. An approval counts only when its forge user is
  matched to a person with the approver role on the project who is neither the merge request's author nor the
  version's author, and only for the current head commit.
- Merged: each pending promotion with its target's `required_approvals` counted approvals (and, if the link
  asks, a SUCCEEDED run of that version) is deployed, once; otherwise it is REJECTED (`merged_without_approval`,
  `merged_before_build`, `no_successful_test_run`). Closed unmerged: REJECTED (`closed`), the preview torn down.
Every decision is audited with the actor, the merge request's URL and the digest.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

from controlplane.core.audit import audit_record
from controlplane.deployments.errors import DeploymentConflict
from controlplane.deployments.models import Deployment, Environment, EnvironmentKind, Promotion, PromotionState
from controlplane.deployments.release import PROMOTION_TARGET, promotion_target, release_rules_of
from controlplane.deployments.services import promotion_deploy, promotion_reject, promotion_request
from controlplane.gitops.errors import ApproveInMergeRequest
from controlplane.gitops.approvals import ci_build_of, counted_approvals, counts_for
from controlplane.gitops.events import ForgeEvent, Kind
from controlplane.gitops.identities import forge_principal, matched_user
from controlplane.gitops.reporting import enqueue_report
from controlplane.gitops.models import (
    Condition,
    MergeRequest,
    MergeRequestApproval,
    MergeRequestPromotion,
    MergeRequestState,
    RepositoryLink,
)
from controlplane.registration.previews import preview_of, preview_teardown
from controlplane.runs.models import Run
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.pipelines import preview_environment_name
from flowyard_spec.states import RunState

logger = logging.getLogger(__name__)
def apply_event(*, link: RepositoryLink, event: ForgeEvent) -> str:
    """Apply a merge-request event to `link`'s project; a sentence saying what it did (kept on the delivery). The
    forge is told the outcome afterwards (`gitops.reporting`)."""
    said = _apply(link=link, event=event)
    merge_request = MergeRequest.objects.filter(link=link, iid=event.iid).select_related("link").first()
    if merge_request is not None:
        enqueue_report(merge_request)
    return said


def _apply(*, link: RepositoryLink, event: ForgeEvent) -> str:
    if event.kind in (Kind.OPENED, Kind.UPDATED):
        return merge_request_updated(link=link, event=event)
    merge_request = MergeRequest.objects.select_for_update().filter(link=link, iid=event.iid).first()
    if merge_request is None:  # an event about a merge request opened before the link: learn it first
        merge_request_updated(link=link, event=event)
        merge_request = MergeRequest.objects.select_for_update().get(link=link, iid=event.iid)
    if event.kind is Kind.APPROVED:
        return approval_recorded(merge_request=merge_request, event=event)
    if event.kind is Kind.UNAPPROVED:
        return approval_withdrawn(merge_request=merge_request, event=event)
    if event.kind is Kind.MERGED:
        return merge_request_merged(merge_request=merge_request, event=event)
    return merge_request_closed(merge_request=merge_request, event=event)


# -- opened / updated ------------------------------------------------------------------------------------------
def merge_request_updated(*, link: RepositoryLink, event: ForgeEvent) -> str:
    """Record the merge request at its head commit; dismiss stale approvals; make its promotions."""
    merge_request, created = MergeRequest.objects.select_for_update().get_or_create(
        link=link, iid=event.iid, defaults={
            "url": event.url, "title": event.title, "author": event.author or event.actor,
            "source_branch": event.source_branch, "target_branch": event.target_branch, "head_sha": event.head_sha,
            "from_fork": event.from_fork})
    said = [f"merge request !{event.iid} {'recorded' if created else 'updated'} at {event.head_sha[:8]}"]
    if not created:
        if merge_request.head_sha != event.head_sha:
            said.append(_new_head(merge_request, event.head_sha))
        for field in ("url", "title", "source_branch", "target_branch"):
            if getattr(event, field):
                setattr(merge_request, field, getattr(event, field))
        if event.author:
            merge_request.author = event.author
        merge_request.from_fork = event.from_fork
        if event.kind is Kind.OPENED:
            merge_request.state = MergeRequestState.OPENED
        merge_request.save()
    if merge_request.state == MergeRequestState.OPENED and merge_request.target_branch == link.default_branch:
        for name in link.workflow_names():
            said.append(_promotion_for(merge_request, name))
    return "; ".join(said)


def _new_head(merge_request: MergeRequest, head_sha: str) -> str:
    now = timezone.now()
    dismissed = merge_request.approvals.filter(dismissed_at__isnull=True).exclude(head_sha=head_sha).update(
        dismissed_at=now, dismissed_because=f"new commit {head_sha[:8]} pushed")
    for old in merge_request.promotions.exclude(head_sha=head_sha).filter(
            condition__in=[Condition.AWAITING_BUILD, Condition.PENDING]):
        _close(old, Condition.SUPERSEDED, f"superseded by commit {head_sha[:8]}", actor=None)
    merge_request.head_sha = head_sha
    return f"{dismissed} earlier approval(s) dismissed by the new commit"


def _promotion_for(merge_request: MergeRequest, workflow_name: str) -> str:
    project = merge_request.link.project
    workflow, _ = Workflow.objects.get_or_create(project=project, name=workflow_name)
    mrp, _ = MergeRequestPromotion.objects.get_or_create(
        merge_request=merge_request, workflow=workflow, head_sha=merge_request.head_sha,
        defaults={"reason": f"waiting for CI to register the build of {merge_request.head_sha[:8]}"})
    if mrp.condition == Condition.AWAITING_BUILD:
        attach_build(mrp)
    return f"{workflow_name}: {mrp.condition}"


def _tested_in(merge_request: MergeRequest, version: WorkflowVersion) -> Deployment | None:
    """Where the build runs in the test stage: the merge request's preview first, else the release rules' stage
    environment (test)."""
    preview = preview_environment_name(merge_request.iid)
    stage = release_rules_of(version.workflow.project).stage_environment
    deployments = Deployment.objects.filter(workflow=version.workflow, version=version).filter(
        Q(environment__name=preview, environment__kind=EnvironmentKind.PREVIEW)
        | Q(environment__name=stage, environment__kind=EnvironmentKind.STANDARD)).select_related("environment")
    return sorted(deployments, key=lambda d: d.environment.kind != EnvironmentKind.PREVIEW)[0] if deployments else None


def attach_build(mrp: MergeRequestPromotion) -> None:
    """Request the promotion of the head commit's CI build, if it is registered and deployed in the test stage."""
    merge_request = mrp.merge_request
    version = ci_build_of(mrp.workflow, mrp.head_sha)
    if version is None:
        return
    source = _tested_in(merge_request, version)
    target = promotion_target(mrp.workflow.project)
    if source is None or target is None:
        mrp.reason = (f"the build {version.image_digest[:19]} is not deployed to the test stage or "
                      f"{preview_environment_name(merge_request.iid)}" if source is None
                      else f"the project has no {PROMOTION_TARGET} environment")
        mrp.save(update_fields=["reason", "updated_at"])
        return
    try:
        promotion = promotion_request(
            actor=forge_principal(merge_request.link), workflow=mrp.workflow, source_environment=source.environment,
            target_environment=target, version=version, requested_for=merge_request.author,
            merge_request_url=merge_request.url)
    except DeploymentConflict as conflict:  # a pending promotion of this merge request left by hand
        mrp.reason = conflict.message
        mrp.save(update_fields=["reason", "updated_at"])
        return
    mrp.promotion, mrp.condition = promotion, Condition.PENDING
    mrp.reason = f"waiting for {target.required_approvals} approval(s) and the merge"
    mrp.save(update_fields=["promotion", "condition", "reason", "updated_at"])


def builds_registered(version: WorkflowVersion) -> int:
    """A version just registered: complete the open merge requests' promotions that waited for it; how many."""
    waiting = MergeRequestPromotion.objects.select_for_update().filter(
        workflow=version.workflow, head_sha=version.git_commit_sha, condition=Condition.AWAITING_BUILD,
        merge_request__state=MergeRequestState.OPENED)
    done = 0
    for mrp in waiting:
        attach_build(mrp)
        done += mrp.condition == Condition.PENDING
        enqueue_report(mrp.merge_request)
    return done


# -- approvals ---------------------------------------------------------------------------------------------------
def approval_recorded(*, merge_request: MergeRequest, event: ForgeEvent) -> str:
    """Record a forge user's approval of the merge request at the commit it approved."""
    link = merge_request.link
    user = matched_user(link.forge, event.actor)
    sha = event.approved_sha or merge_request.head_sha
    merge_request.approvals.filter(forge_username=event.actor.lower(), dismissed_at__isnull=True).update(
        dismissed_at=timezone.now(), dismissed_because="approved again")
    approval = MergeRequestApproval.objects.create(
        merge_request=merge_request, forge_username=event.actor.lower(), user=user, head_sha=sha)
    verdicts = {mrp.workflow.name: counts_for(approval, mrp) for mrp in _live(merge_request)}
    audit_record(actor=forge_principal(link, event.actor), action="merge_request.approved", obj=merge_request,
                 project=link.project, after={"merge_request": merge_request.url, "head_sha": sha,
                                              "matched_user": user.get_username() if user else None,
                                              "counts": {name: why for name, why in verdicts.items()}})
    return f"approval by {event.actor}: " + (", ".join(f"{n}: {why}" for n, why in verdicts.items()) or "no promotion")


def approval_withdrawn(*, merge_request: MergeRequest, event: ForgeEvent) -> str:
    """The forge user took their approval back (GitLab unapproved, GitHub review dismissed)."""
    withdrawn = merge_request.approvals.filter(forge_username=event.actor.lower(), dismissed_at__isnull=True).update(
        dismissed_at=timezone.now(), dismissed_because="unapproved")
    audit_record(actor=forge_principal(merge_request.link, event.actor), action="merge_request.unapproved",
                 obj=merge_request, project=merge_request.link.project,
                 after={"merge_request": merge_request.url, "withdrawn": withdrawn})
    return f"{withdrawn} approval(s) by {event.actor} withdrawn"


def _live(merge_request: MergeRequest):
    return merge_request.promotions.filter(head_sha=merge_request.head_sha).exclude(
        condition__in=[Condition.SUPERSEDED]).select_related("workflow", "promotion__version")


# -- merged / closed ---------------------------------------------------------------------------------------------
def _has_succeeded(version: WorkflowVersion, environment: Environment) -> bool:
    return Run.objects.filter(version=version, deployment__environment=environment, state=RunState.SUCCEEDED).exists()


def merge_request_merged(*, merge_request: MergeRequest, event: ForgeEvent) -> str:
    """Deploy each promotion with enough approvals, once; reject the others, visibly."""
    merge_request.state = MergeRequestState.MERGED
    merge_request.save(update_fields=["state", "updated_at"])
    actor = forge_principal(merge_request.link, event.actor)
    said = []
    for mrp in _live(merge_request).select_for_update(of=("self",)):
        said.append(f"{mrp.workflow.name}: {_decide_on_merge(mrp, actor)}")
    _teardown_preview(merge_request, actor)
    return "merged; " + ("; ".join(said) or "no promotion")


def _decide_on_merge(mrp: MergeRequestPromotion, actor: Any) -> str:
    if mrp.condition in (Condition.PROMOTED, Condition.REJECTED):
        return f"already {mrp.condition}"  # the forge redelivered the merge: nothing twice
    if mrp.condition == Condition.AWAITING_BUILD:
        return _close(mrp, Condition.REJECTED, "merged_before_build: CI never registered the build of "
                      f"{mrp.head_sha[:8]}, so nothing is deployed", actor=actor)
    promotion = mrp.promotion
    approvals = counted_approvals(mrp)
    needed = promotion.target_environment.required_approvals
    if len(approvals) < needed:
        return _close(mrp, Condition.REJECTED, f"merged_without_approval: {len(approvals)} of {needed} approval(s) "
                      "counted, so nothing is deployed", actor=actor)
    if mrp.merge_request.link.require_test_success and not _has_succeeded(promotion.version,
                                                                          promotion.source_environment):
        return _close(mrp, Condition.REJECTED, "no_successful_test_run: the version has no SUCCEEDED run in "
                      f"{promotion.source_environment.name}", actor=actor)
    who = ", ".join(approval.user.get_username() for approval in approvals)
    promotion_deploy(actor=actor, promotion=promotion, comment=f"merged {mrp.merge_request.url}; approved by {who}")
    mrp.condition, mrp.reason = Condition.PROMOTED, f"deployed to {promotion.target_environment.name}; approved by {who}"
    mrp.save(update_fields=["condition", "reason", "updated_at"])
    _audit_decision(mrp, actor, "promoted", approvals=[a.user.get_username() for a in approvals])
    return f"deployed {promotion.version.image_digest[:19]} to {promotion.target_environment.name}"


def _close(mrp: MergeRequestPromotion, condition: str, reason: str, *, actor: Any) -> str:
    if mrp.promotion is not None and mrp.promotion.state == PromotionState.PENDING:
        promotion_reject(actor=actor, promotion=mrp.promotion, comment=reason)
    mrp.condition, mrp.reason = condition, reason
    mrp.save(update_fields=["condition", "reason", "updated_at"])
    if condition == Condition.REJECTED:
        _audit_decision(mrp, actor, "rejected", reason=reason.split(":")[0])
    return f"{condition}: {reason}"


def _audit_decision(mrp: MergeRequestPromotion, actor: Any, decision: str, **details: Any) -> None:
    version = mrp.promotion.version if mrp.promotion else None
    audit_record(actor=actor, action=f"merge_request.{decision}", obj=mrp, project=mrp.workflow.project, after={
        "merge_request": mrp.merge_request.url, "workflow": mrp.workflow.name, "head_sha": mrp.head_sha,
        "digest": version.image_digest if version else None, **details})


def merge_request_closed(*, merge_request: MergeRequest, event: ForgeEvent) -> str:
    """Closed without merging: its promotions are rejected and its preview torn down."""
    merge_request.state = MergeRequestState.CLOSED
    merge_request.save(update_fields=["state", "updated_at"])
    actor = forge_principal(merge_request.link, event.actor)
    said = [f"{mrp.workflow.name}: {_close(mrp, Condition.REJECTED, 'closed: the merge request was closed unmerged', actor=actor)}"
            for mrp in _live(merge_request).exclude(condition__in=[Condition.PROMOTED, Condition.REJECTED])]
    _teardown_preview(merge_request, actor)
    return "closed; " + ("; ".join(said) or "no promotion")


def _teardown_preview(merge_request: MergeRequest, actor: Any) -> None:
    preview = preview_of(merge_request.link.project, merge_request.iid)
    if preview is not None and preview.is_live:
        preview_teardown(actor=actor, environment=preview, why=f"{merge_request.url} was {merge_request.state}")


def refuse_api_approval(promotion: Promotion) -> None:
    """Promotions a merge request drives are approved in the merge request."""
    mrp = MergeRequestPromotion.objects.filter(promotion=promotion).select_related("merge_request").first()
    if mrp is not None:
        raise ApproveInMergeRequest(
            f"This promotion follows {mrp.merge_request.url}: approve the merge request on the forge, then merge it.",
            extra={"merge_request": mrp.merge_request.url})

