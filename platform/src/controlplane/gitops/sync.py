"""Reconcile from Git: `gitops_diff(link)` reads the drift, `gitops_sync(actor=…, link=…)` applies what Git says.

The sync fetches the link's default branch, compares (gitops.drift) and applies only what Git says and it may:
a workflow whose flowyard.json is gone is paused where it runs outside production (never deleted: an admin
confirms the removal); a test deployment a person changed gets Git's CI build back. It never deploys to, pauses or
otherwise changes an environment that requires approval (production changes only through an approved promotion),
and never deploys anything CI did not build. A repository that cannot be fetched or read leaves the link's
`sync_error` (git's message) and changes nothing else. Each sync is one transaction per link, audited once
(`gitops.synced` with the drift found and what was applied, or `gitops.sync_failed`); the deployments it changes
are audited as theirs, by `gitops:<forge>:<repository>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import audit_record
from controlplane.deployments.models import Deployment
from controlplane.deployments.services import deployment_update
from controlplane.gitops.drift import Drift, Fix, diff_text, drift_report
from controlplane.gitops.errors import GitopsError
from controlplane.gitops.git import fetch_desired, shown_url
from controlplane.gitops.identities import LinkPrincipal, sync_principal
from controlplane.gitops.models import RepositoryLink


@dataclass
class SyncReport:
    """What a diff or a sync of one link found (and, for a sync, applied)."""

    link: RepositoryLink
    head_sha: str = ""
    drift: list[Drift] = field(default_factory=list)
    applied: list[dict[str, str]] = field(default_factory=list)
    error: str = ""
    error_code: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as the API returns it."""
        link = self.link
        return {
            "link": str(link.pk), "project": str(link.project_id), "repository": f"{link.forge}:{link.repository_path}",
            "clone_url": shown_url(link.clone_url), "branch": link.default_branch, "head_sha": self.head_sha,
            "error": self.error, "error_code": self.error_code, "drift": [drift.as_dict() for drift in self.drift],
            "diff": diff_text(self.drift), "applied": self.applied, "last_sync_at": link.last_sync_at,
            "sync_error": link.sync_error,
        }


def gitops_diff(link: RepositoryLink) -> SyncReport:
    """Fetch the link's branch and compare it with the deployments; changes nothing (not even the link)."""
    try:
        desired = fetch_desired(link)
    except GitopsError as exc:
        return SyncReport(link=link, error=exc.message, error_code=exc.code, head_sha=exc.extra.get("head_sha", ""))
    return SyncReport(link=link, head_sha=desired.head_sha, drift=drift_report(link, desired))


def gitops_sync(*, actor: Any, link: RepositoryLink, now: datetime | None = None,
                audit_unchanged: bool = True) -> SyncReport:
    """Fetch `link`'s branch (outside any transaction) and apply what Git says, in one audited transaction.

    A link that cannot be fetched or read gets `sync_error` and nothing else changes. `audit_unchanged=False`
    (the periodic task) leaves no audit event when nothing was applied and the link's error state stayed."""
    now = now or timezone.now()
    try:
        desired = fetch_desired(link)
    except GitopsError as exc:
        return _sync_failed(actor=actor, link=link, error=exc, now=now, audit_unchanged=audit_unchanged)
    return _sync_apply(actor=actor, link=link, desired=desired, now=now, audit_unchanged=audit_unchanged)


@transaction.atomic
def _sync_failed(*, actor: Any, link: RepositoryLink, error: GitopsError, now: datetime,
                 audit_unchanged: bool) -> SyncReport:
    link = RepositoryLink.objects.select_for_update(of=("self",)).select_related("project__team").get(pk=link.pk)
    changed = link.sync_error != error.message
    link.sync_error, link.last_sync_at = error.message, now
    link.save(update_fields=["sync_error", "last_sync_at", "updated_at"])
    if audit_unchanged or changed:
        audit_record(actor=actor, action="gitops.sync_failed", obj=link, project=link.project, after={
            "clone_url": shown_url(link.clone_url), "branch": link.default_branch, "error": error.message,
            "code": error.code})
    return SyncReport(link=link, error=error.message, error_code=error.code,
                      head_sha=error.extra.get("head_sha", ""))


@transaction.atomic
def _sync_apply(*, actor: Any, link: RepositoryLink, desired: Any, now: datetime,
                audit_unchanged: bool) -> SyncReport:
    link = RepositoryLink.objects.select_for_update(of=("self",)).select_related("project__team").get(pk=link.pk)
    drifts = drift_report(link, desired)
    principal = sync_principal(link, actor)
    applied = [done for drift in drifts if (done := _apply(principal, drift)) is not None]
    had_error = bool(link.sync_error)
    link.sync_error, link.last_sync_at = "", now
    link.save(update_fields=["sync_error", "last_sync_at", "updated_at"])
    if audit_unchanged or applied or had_error:
        audit_record(actor=actor, action="gitops.synced", obj=link, project=link.project, after={
            "branch": desired.branch, "head_sha": desired.head_sha, "drift": [drift.as_dict() for drift in drifts],
            "applied": applied})
    return SyncReport(link=link, head_sha=desired.head_sha, drift=drifts, applied=applied)


def _apply(principal: LinkPrincipal, drift: Drift) -> dict[str, str] | None:
    """Carry out one drift's fix, if the sync may; what it did, or None."""
    if drift.fix == Fix.REPORT or drift.deployment is None:
        return None
    deployment = Deployment.objects.select_for_update(of=("self",)).select_related("environment", "version").get(
        pk=drift.deployment.pk)
    if deployment.environment.requires_approval:  # never production: only an approved promotion changes it
        return None
    if drift.fix == Fix.PAUSE:
        if deployment.is_paused:
            return None
        deployment_update(actor=principal, deployment=deployment, is_paused=True)
        detail = (f"paused {drift.workflow} in {drift.environment}: removed from Git at {drift.head_sha[:8]}; "
                  "paused (not deleted) until an admin confirms the removal")
        return {"kind": str(drift.kind), "workflow": drift.workflow, "environment": drift.environment,
                "action": "paused", "detail": detail}
    version = drift.version
    if version is None or deployment.version_id == version.pk:
        return None
    deployment_update(actor=principal, deployment=deployment, version=version)
    detail = (f"deployed {version.image_digest[:19]}… (the CI build of {(version.git_commit_sha or '')[:8]}) of "
              f"{drift.workflow} to {drift.environment}, replacing {drift.deployment.version.image_digest[:19]}…")
    return {"kind": str(drift.kind), "workflow": drift.workflow, "environment": drift.environment,
            "action": "deployed", "detail": detail, "version": str(version.pk)}
