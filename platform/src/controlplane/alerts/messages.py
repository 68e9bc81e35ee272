"""What an alert says: what happened, where, why (the reason code in words), the last log lines, and a link."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from controlplane.runs.log_lines import masker_for
from controlplane.runs.models import Run, RunLogLine
from controlplane.runs.reasons import reason_sentence

LOG_TAIL_LINES = 20
MAX_LINE_CHARS = 300


@dataclass(frozen=True)
class Message:
    """An alert's words: a one-line title, a plain-text body, a link to the portal, and facts as JSON."""

    title: str
    text: str
    link: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def portal_link(name: str, **kwargs: Any) -> str:
    """The absolute address of a portal page (FLOWYARD_PORTAL_URL, else FLOWYARD_PUBLIC_URL); "" without a portal."""
    try:
        path = reverse(f"portal:{name}", kwargs=kwargs)
    except NoReverseMatch:
        return ""
    base = settings.FLOWYARD.portal_url or settings.FLOWYARD.public_url
    return base.rstrip("/") + path


def log_tail(run: Run, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The run's last log lines, masked again with its environment's secrets (they were masked when stored)."""
    mask = masker_for(run)
    newest = RunLogLine.objects.filter(run=run).order_by("-seq").values_list("message", flat=True)[:lines]
    return [mask(line)[:MAX_LINE_CHARS] for line in reversed(newest)]


def _where(run: Run) -> tuple[str, str, str]:
    deployment = run.deployment
    return deployment.environment.project.slug, deployment.workflow.name, deployment.environment.name


def run_message(run: Run, event: str) -> Message:
    """The message about a run: failed, recovered, late or running long."""
    project, workflow, environment = _where(run)
    where = f"{project}/{workflow} in {environment}"
    headline = {
        "run_failed": f"{run.state}: {where}" + (f" ({run.reason})" if run.reason else ""),
        "run_recovered": f"Recovered: {where} succeeded again",
        "schedule_late": f"Late: {where} did not start on time",
        "run_long": f"Running long: {where}",
    }[event]
    facts = [
        f"Workflow: {workflow} (image {run.version.image_digest[:19]}"
        + (f", commit {run.version.git_commit_sha[:12]})" if run.version.git_commit_sha else ")"),
        f"Project: {project}",
        f"Environment: {environment}",
        f"Run: {run.pk} (attempt {run.attempt}, {run.trigger} trigger)",
        f"State: {run.state}",
    ]
    if run.scheduled_for:
        facts.append(f"Scheduled for: {run.scheduled_for.isoformat()}")
    if run.started_at:
        facts.append(f"Started: {run.started_at.isoformat()}")
    if run.ended_at:
        facts.append(f"Ended: {run.ended_at.isoformat()}")
    parts = ["\n".join(facts)]
    if event == "run_failed":
        why = reason_sentence(run.reason) or "No reason was recorded."
        parts.append(f"Why: {run.reason or 'unknown'}: {why}" + (f"\n{run.message}" if run.message else ""))
    elif event == "schedule_late":
        parts.append(f"Why: {run.late_reason or 'not started within its start deadline'}")
    tail = log_tail(run) if event in ("run_failed", "run_long") else []
    if tail:
        parts.append(f"Last {len(tail)} log lines:\n" + "\n".join(f"  {line}" for line in tail))
    link = portal_link("run", pk=run.pk)
    if link:
        parts.append(f"Open the run: {link}")
    details = {
        "project": project, "workflow": workflow, "environment": environment, "run": str(run.pk),
        "state": run.state, "reason": run.reason, "attempt": run.attempt,
        "reason_text": reason_sentence(run.reason), "log_tail": tail,
    }
    return Message(title=f"[Flowyard] {headline}", text="\n\n".join(parts), link=link, details=details)


def promotion_message(promotion: Any, event: str) -> Message:
    """The message about a promotion waiting for approval or decided."""
    workflow, project = promotion.workflow.name, promotion.workflow.project.slug
    route = f"{promotion.source_environment.name} → {promotion.target_environment.name}"
    if event == "promotion_pending":
        headline = f"Approval needed: {project}/{workflow} {route}"
    else:
        headline = f"Promotion {promotion.state.lower()}: {project}/{workflow} {route}"
    facts = [f"Workflow: {workflow}", f"Project: {project}", f"Promotion: {route}", f"State: {promotion.state}",
             f"Requested by: {promotion.requested_by_label or 'unknown'}"]
    if promotion.merge_request_url:
        facts.append(f"Merge request: {promotion.merge_request_url}")
    if promotion.comment:
        facts.append(f"Comment: {promotion.comment}")
    link = portal_link("promotion", pk=promotion.pk)
    text = "\n".join(facts) + (f"\n\nOpen the promotion: {link}" if link else "")
    details = {"project": project, "workflow": workflow, "promotion": str(promotion.pk), "state": promotion.state,
               "source_environment": promotion.source_environment.name,
               "target_environment": promotion.target_environment.name}
    return Message(title=f"[Flowyard] {headline}", text=text, link=link, details=details)


def budget_message(*, project: Any, threshold: int, period: str, spent: Any, budget: Any, currency: str) -> Message:
    """The message about a project's spending crossing 80 % or 100 % of its monthly budget."""
    headline = f"Budget {threshold} %: {project.slug} spent {spent:.2f} of {budget:.2f} {currency} in {period}"
    text = (f"Project: {project.slug}\nMonth: {period} (UTC)\nSpent: {spent:.2f} {currency}\n"
            f"Budget: {budget:.2f} {currency}\nThreshold crossed: {threshold} %")
    details = {"project": project.slug, "period": period, "threshold": threshold, "spent": _plain(spent),
               "budget": _plain(budget), "currency": currency}
    return Message(title=f"[Flowyard] {headline}", text=text, details=details)


def _plain(amount: Any) -> str:
    """An exact amount without trailing zeros or an exponent: 0.8156400000 → "0.81564", 100.00 → "100"."""
    return format(amount.normalize(), "f")


def digest_message(titles_and_links: list[tuple[str, str]], *, channel_name: str) -> Message:
    """One message for the alerts a channel's rate limit held back."""
    lines = [f"- {title}" + (f"\n  {link}" if link else "") for title, link in titles_and_links]
    text = (f"{len(lines)} alerts arrived faster than channel {channel_name}'s rate limit allows; here they are "
            "together:\n\n" + "\n".join(lines))
    details = {"digest": [{"title": title, "link": link} for title, link in titles_and_links]}
    return Message(title=f"[Flowyard] Digest: {len(lines)} alerts", text=text, details=details)
