"""Portal pages: promotions (list, detail, approve and reject)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from controlplane.core.errors import FlowyardError
from controlplane.deployments.models import Promotion, PromotionState
from controlplane.deployments.selectors import deployment_list, promotion_list
from controlplane.deployments.services import is_authors, promotion_approve, promotion_reject
from controlplane.deployments.signals import promotion_approving
from controlplane.portal.forms import PromotionDecisionForm
from controlplane.portal.pages import may, visible_or_404
from controlplane.runs.selectors import run_list
from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role

PAGE_SIZE = 50
TEST_RUNS = 20
TABS = [(state.value, state.label.capitalize()) for state in PromotionState]


@dataclass(frozen=True)
class Refusal:
    """Why a person may not take a decision on a promotion, and the HTTP status a POST anyway gets."""

    message: str
    status: int = 403


@dataclass(frozen=True)
class CommitRange:
    """The commits between what the target runs now and what the promotion brings, with links when known."""

    from_sha: str
    to_sha: str
    compare_url: str
    to_url: str


def _not_pending(promotion: Promotion) -> Refusal | None:
    if promotion.state != PromotionState.PENDING:
        return Refusal(f"This promotion is already {promotion.state.lower()}.", status=409)
    return None


def _not_approver(user: Any, promotion: Promotion, verb: str) -> Refusal | None:
    project = promotion.workflow.project
    if may(user, project, Role.APPROVER):
        return None
    role = role_for(user, project)
    return Refusal(f"{verb} a promotion needs the {Role.APPROVER} role on project {project.slug}; "
                   f"you are {role or 'not a member'}.")


def approve_refusal(user: Any, promotion: Promotion) -> Refusal | None:
    """Why `user` may not approve (decided, not an approver, driven by a merge request, four eyes), or None."""
    refusal = _not_pending(promotion) or _not_approver(user, promotion, "Approving")
    if refusal:
        return refusal
    try:  # the receivers only check (gitops: a merge request's promotion is approved in the merge request)
        promotion_approving.send(sender=Promotion, promotion=promotion, actor=user)
    except FlowyardError as signal_refusal:
        return Refusal(signal_refusal.message, status=signal_refusal.http_status)
    if is_authors(promotion, user):
        whose = ("you asked for this promotion" if promotion.requested_by_id == user.pk
                 else f"the change is yours (requested for {promotion.requested_for})")
        return Refusal(f"Four eyes: {whose}, so another approver of the project must approve it.")
    if promotion.approvals.filter(user=user).exists():
        return Refusal("You have approved this promotion already; it needs another approver.", status=409)
    return None


def reject_refusal(user: Any, promotion: Promotion) -> Refusal | None:
    """Why `user` may not reject (decided, or not an approver), or None; rejecting one's own is a withdrawal."""
    return _not_pending(promotion) or _not_approver(user, promotion, "Rejecting")


def _pretty(config: Any) -> list[str]:
    return json.dumps(config, indent=2, sort_keys=True).splitlines()


def config_diff(current: Any, promoted: Any, target_name: str) -> list[str]:
    """A unified diff of the config deployed in the target (if any) and the promoted version's config."""
    before = _pretty(current.config) if current is not None else []
    label = f"{target_name} now ({current.image_digest[7:19]})" if current is not None else f"{target_name} now (empty)"
    return list(difflib.unified_diff(before, _pretty(promoted.config), fromfile=label,
                                     tofile=f"promoted ({promoted.image_digest[7:19]})", lineterm=""))


def _web_url(repository: str) -> str:
    if not repository.startswith(("https://", "http://")):
        return ""
    return repository.removesuffix("/").removesuffix(".git")


def commit_range(current: Any, promoted: Any) -> CommitRange:
    """The commit range current → promoted, with compare and commit links when the repository is a web URL."""
    base = _web_url(promoted.git_repository)
    separator = "/-/" if "gitlab" in base else "/"
    from_sha = current.git_commit_sha if current is not None else ""
    to_sha = promoted.git_commit_sha
    compare = f"{base}{separator}compare/{from_sha}...{to_sha}" if base and from_sha and to_sha and from_sha != to_sha else ""
    return CommitRange(from_sha=from_sha, to_sha=to_sha, compare_url=compare,
                       to_url=f"{base}{separator}commit/{to_sha}" if base and to_sha else "")


@login_required
@require_GET
def promotion_list_page(request: HttpRequest) -> HttpResponse:
    """Promotions of my projects, one tab per state (pending first)."""
    state = request.GET.get("state", PromotionState.PENDING.value)
    if state not in PromotionState.values:
        state = PromotionState.PENDING.value
    promotions = promotion_list(user=request.user).filter(state=state).order_by("-created_at")
    page = Paginator(promotions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/promotions/list.html", {
        "title": "Promotions", "page": page, "state": state, "tabs": TABS,
    })


def _detail_context(user: Any, promotion: Promotion, form: PromotionDecisionForm) -> dict[str, Any]:
    target = (deployment_list(user=user).filter(workflow=promotion.workflow, environment=promotion.target_environment)
              .first())
    current = target.version if target is not None else None
    test_runs = (run_list(user=user).filter(version=promotion.version, deployment__environment=promotion.source_environment)
                 .order_by("-created_at", "-id")[:TEST_RUNS])
    return {
        "title": f"Promotion of {promotion.workflow.name} to {promotion.target_environment.name}",
        "promotion": promotion, "project": promotion.workflow.project, "form": form, "current": current,
        "diff": config_diff(current, promotion.version, promotion.target_environment.name),
        "commits": commit_range(current, promotion.version), "test_runs": list(test_runs),
        "approvals": list(promotion.approvals.select_related("user")),
        "merge_request_url": promotion.merge_request_url or promotion.version.merge_request_url,
        "approve_refusal": approve_refusal(user, promotion), "reject_refusal": reject_refusal(user, promotion),
    }


def _decide(user: Any, promotion: Promotion, decision: str, comment: str) -> Refusal | None:
    """Check again, then call the deployments service; a refusal of either comes back as a Refusal."""
    refusal = approve_refusal(user, promotion) if decision == "approve" else reject_refusal(user, promotion)
    if refusal:
        return refusal
    service = promotion_approve if decision == "approve" else promotion_reject
    try:
        service(actor=user, promotion=promotion, comment=comment)
    except FlowyardError as service_refusal:
        return Refusal(service_refusal.message, status=service_refusal.http_status)
    return None


def _decision_outcome(promotion: Promotion) -> str:
    """What the decision did, in a sentence."""
    if promotion.state == PromotionState.PENDING:
        given, needed = promotion.approvals.count(), promotion.target_environment.required_approvals
        return f"Your approval is recorded ({given} of {needed}); it needs another approver before it is deployed."
    if promotion.state == PromotionState.APPROVED:
        return f"Approved: {promotion.workflow.name} is deployed to {promotion.target_environment.name}."
    return "Rejected: nothing was deployed."


@login_required
@require_http_methods(["GET", "POST"])
def promotion_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """What a promotion changes (config diff, commits, digest, test runs) and the approve / reject form."""
    user = request.user
    promotion = visible_or_404(promotion_list(user=user).select_related("requested_by"), pk=pk)
    if request.method == "GET":
        return render(request, "portal/promotions/detail.html",
                      _detail_context(user, promotion, PromotionDecisionForm()))
    form = PromotionDecisionForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/promotions/detail.html", _detail_context(user, promotion, form), status=400)
    decision = form.cleaned_data["decision"]
    refusal = _decide(user, promotion, decision, form.cleaned_data["comment"])
    if refusal is not None:
        context = _detail_context(user, promotion, form)
        context["decision_refusal"] = refusal
        return render(request, "portal/promotions/detail.html", context, status=refusal.status)
    promotion.refresh_from_db()
    messages.success(request, _decision_outcome(promotion))
    return redirect("portal:promotion", pk=promotion.pk)


urlpatterns = [
    path("promotions/", promotion_list_page, name="promotions"),
    path("promotions/<uuid:pk>/", promotion_detail, name="promotion"),
]
