"""Celery tasks of the gitops app: reconciling every linked repository from Git (beat sends it every 5 minutes)."""

from __future__ import annotations

import logging

from celery import shared_task

from controlplane.gitops.models import RepositoryLink
from controlplane.gitops.sync import gitops_sync

logger = logging.getLogger(__name__)
SYNC_REPOSITORIES = "controlplane.gitops.tasks.sync_repositories"


@shared_task(name=SYNC_REPOSITORIES)
def sync_repositories() -> dict[str, str]:
    """Sync every link from Git; one link failing (unreachable, malformed, or a bug) never stops the others.
    Returns each link's outcome: "ok", "applied N", or its error."""
    outcomes: dict[str, str] = {}
    for link in RepositoryLink.objects.select_related("project__team").order_by("created_at"):
        try:
            report = gitops_sync(actor=None, link=link, audit_unchanged=False)
        except Exception:  # noqa: BLE001 - the next link still syncs; this one is logged with its traceback
            logger.exception("gitops sync of %s failed", link)
            outcomes[str(link.pk)] = "failed: see the log"
            continue
        outcomes[str(link.pk)] = report.error or (f"applied {len(report.applied)}" if report.applied else "ok")
        if report.error:
            logger.warning("gitops sync of %s: %s", link, report.error)
        elif report.applied:
            logger.info("gitops sync of %s applied: %s", link, "; ".join(a["detail"] for a in report.applied))
    return outcomes
