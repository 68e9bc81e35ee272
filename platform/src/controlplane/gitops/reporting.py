"""Telling the forge: two commit statuses on the merge request's head (`flowyard/test`, `flowyard/promotion`) and
one comment kept up to date in place, through the forge's REST API (`gitops.forges`).

Reports are sent by a Celery task enqueued on commit after every change to a merge request, so a forge that is
slow or down never holds up a webhook, a registration or a promotion: the task retries with backoff, and every
attempt is kept (`ForgeReport`) for the project's admins to see. A link without an API URL and token reports
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from controlplane.core.queue import enqueue
from controlplane.gitops.approvals import counted_approvals
from controlplane.gitops.forges import CommitState, ForgeError, ForgeRefused, ForgeUnavailable, forge_client
from controlplane.gitops.models import Condition, ForgeReport, MergeRequest, MergeRequestPromotion
from controlplane.gitops.secrets import decrypt_secret
from controlplane.runs.models import Run
from flowyard_spec.states import RunState

logger = logging.getLogger(__name__)
REPORT_TASK = "controlplane.gitops.reporting.report_to_forge"
TEST_CONTEXT, PROMOTION_CONTEXT = "flowyard/test", "flowyard/promotion"
MAX_ATTEMPTS = 6


def enqueue_report(merge_request: MergeRequest) -> None:
    """After the current transaction commits, report `merge_request` to its forge (when the link can)."""
    link = merge_request.link
    if not (link.api_url and link.encrypted_api_token):
        return
    merge_request_id = str(merge_request.pk)
    transaction.on_commit(lambda: enqueue(REPORT_TASK, merge_request_id,
                                          fallback="the forge shows its previous report until the next one"))


def _run_url(run: Run) -> str:
    return f"{settings.FLOWYARD.public_url.rstrip('/')}/api/v1/runs/{run.pk}/"


def _latest_test_run(mrp: MergeRequestPromotion) -> Run | None:
    version = mrp.promotion.version if mrp.promotion else None
    if version is None:
        return None
    return Run.objects.filter(version=version).order_by("-created_at").first()


def test_status(runs: list[Run | None]) -> tuple[CommitState, str, str]:
    """`flowyard/test` from each workflow's latest run of its build: success when all SUCCEEDED, failure when one
    failed, pending otherwise; with a link to a run."""
    if not runs or any(run is None for run in runs):
        return CommitState.PENDING, "waiting for the build's test run", ""
    failed = [run for run in runs if run.state in (RunState.FAILED, RunState.CRASHED, RunState.TIMED_OUT)]
    if failed:
        return CommitState.FAILURE, f"test run {failed[0].state.lower()}", _run_url(failed[0])
    if all(run.state == RunState.SUCCEEDED for run in runs):
        return CommitState.SUCCESS, "the build ran successfully", _run_url(runs[0])
    return CommitState.PENDING, "test run in progress", _run_url(runs[0])


def promotion_status(mrps: list[MergeRequestPromotion]) -> tuple[CommitState, str]:
    """`flowyard/promotion`: where the merge request's promotions stand."""
    conditions = {mrp.condition for mrp in mrps}
    if not mrps or conditions & {Condition.AWAITING_BUILD, Condition.PENDING}:
        waiting = [mrp for mrp in mrps if mrp.condition in (Condition.AWAITING_BUILD, Condition.PENDING)]
        return CommitState.PENDING, waiting[0].reason[:120] if waiting else "no workflow of this repository"
    if Condition.REJECTED in conditions:
        rejected = next(mrp for mrp in mrps if mrp.condition == Condition.REJECTED)
        return CommitState.FAILURE, rejected.reason[:120]
    return CommitState.SUCCESS, "promoted to production"


def comment_body(merge_request: MergeRequest, mrps: list[MergeRequestPromotion], runs: list[Run | None]) -> str:
    """The one Flowyard comment on the merge request, in Markdown (`runs`: each promotion's latest test run)."""
    lines = [f"**Flowyard** — promotion of `{merge_request.head_sha[:8]}` to production", "",
             "| workflow | state | approvals | test run | why |", "|---|---|---|---|---|"]
    for mrp, run in zip(mrps, runs, strict=True):
        needed = mrp.promotion.target_environment.required_approvals if mrp.promotion else "—"
        counted = len(counted_approvals(mrp)) if mrp.promotion else 0
        run_cell = f"[{run.state.lower()}]({_run_url(run)})" if run else "—"
        lines.append(f"| {mrp.workflow.name} | {mrp.condition.replace('_', ' ')} | {counted}/{needed} | {run_cell} "
                     f"| {mrp.reason.replace('|', '/')} |")
    if not mrps:
        lines.append("| — | — | — | — | the merge request targets another branch than the default one |")
    lines += ["", "_Approvals count from approvers of the project other than the author; a new commit dismisses "
              "them. Merging with enough approvals deploys exactly the digest that ran here._"]
    return "\n".join(lines)


def report_merge_request(merge_request: MergeRequest) -> None:
    """Send both statuses and the comment; each attempt is recorded. Raises ForgeUnavailable to be retried."""
    link = merge_request.link
    mrps = list(merge_request.promotions.filter(head_sha=merge_request.head_sha)
                .select_related("workflow", "promotion__version", "promotion__target_environment"))
    runs = [_latest_test_run(mrp) for mrp in mrps]
    state, description, url = test_status(runs)
    promotion_state, promotion_description = promotion_status(mrps)
    with forge_client(link.forge, link.api_url, decrypt_secret(link.encrypted_api_token)) as client:
        _send(merge_request, [
            ("status", lambda: client.set_commit_status(
                repository=link.repository_path, sha=merge_request.head_sha, context=TEST_CONTEXT, state=state,
                description=description, target_url=url)),
            ("status", lambda: client.set_commit_status(
                repository=link.repository_path, sha=merge_request.head_sha, context=PROMOTION_CONTEXT,
                state=promotion_state, description=promotion_description)),
            ("comment", lambda: _comment(client, merge_request, comment_body(merge_request, mrps, runs))),
        ])


def _send(merge_request: MergeRequest, steps: list[tuple[str, Any]]) -> None:
    """Run each report step in order, recording every attempt; the first failure is raised."""
    for kind, step in steps:
        try:
            step()
        except ForgeError as exc:
            ForgeReport.objects.create(merge_request=merge_request, kind=kind, ok=False, detail=str(exc)[:2000])
            raise
        ForgeReport.objects.create(merge_request=merge_request, kind=kind, ok=True)


def _comment(client: Any, merge_request: MergeRequest, body: str) -> None:
    comment_id = client.upsert_comment(repository=merge_request.link.repository_path, merge_request=merge_request.iid,
                                       body=body, comment_id=merge_request.comment_id or None)
    if comment_id != merge_request.comment_id:
        MergeRequest.objects.filter(pk=merge_request.pk).update(comment_id=comment_id)
        merge_request.comment_id = comment_id


@shared_task(bind=True, name=REPORT_TASK, max_retries=MAX_ATTEMPTS - 1, acks_late=True)
def report_to_forge(self, merge_request_id: str) -> str:
    """Report one merge request to its forge; a forge that is down is retried with exponential backoff (capped at
    5 minutes), a refusal (bad token, unknown repository) is recorded and not retried."""
    merge_request = MergeRequest.objects.select_related("link").filter(pk=merge_request_id).first()
    if merge_request is None or not merge_request.link.api_url:
        return "nothing to report"
    try:
        report_merge_request(merge_request)
    except ForgeUnavailable as exc:
        delay = exc.retry_after or min(300, 2 ** self.request.retries * 5)
        raise self.retry(exc=exc, countdown=delay) from None
    except ForgeRefused as exc:
        logger.warning("the forge refused the report of %s: %s", merge_request, exc)
        return "refused"
    return "reported"


