"""Trigger grants: a downstream project's admin lets another project's workflows start its workflows.

Without a grant, a 'project/workflow' target of `triggers.on_success` starts nothing (the upstream run's log
says why). Grants are read by viewers of the downstream project and written by its admins.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.scheduling.models import TriggerGrant
from controlplane.tenancy.models import Project
from controlplane.tenancy.selectors import project_list


def granted_project(upstream: Project, slug: str | None) -> Project | None:
    """The project a trigger target's `slug` names, if workflows of `upstream` may start its workflows: `upstream`
    itself (no slug, or its own), or a project that granted it; None otherwise (missing and not granted read alike)."""
    if slug is None or slug == upstream.slug:
        return upstream
    grant = TriggerGrant.objects.select_related("project").filter(project__slug=slug, upstream_project=upstream).first()
    return grant.project if grant is not None else None


def trigger_grant_list(*, user: object) -> QuerySet[TriggerGrant]:
    """Grants of the (downstream) projects the user can see."""
    return TriggerGrant.objects.filter(project__in=project_list(user=user)).select_related(
        "project__team", "upstream_project")


@transaction.atomic
def trigger_grant_create(*, actor: Any, project: Project, upstream_project: Project) -> TriggerGrant:
    """Let workflows of `upstream_project` start workflows of `project` through `triggers.on_success`."""
    if upstream_project.pk == project.pk:
        raise ValidationFailed({"upstream_project": [
            "A project's workflows may always trigger each other; name another project."]})
    if TriggerGrant.objects.filter(project=project, upstream_project=upstream_project).exists():
        raise ValidationFailed({"upstream_project": [
            f"Project {project.slug} already allows {upstream_project.slug} to trigger its workflows."]})
    user, label = actor_user_and_label(actor)
    grant = TriggerGrant.objects.create(project=project, upstream_project=upstream_project, created_by=user,
                                        created_by_label=label)
    audit_record(actor=actor, action="trigger_grant.created", obj=grant, after=snapshot(grant), project=project)
    return grant


@transaction.atomic
def trigger_grant_delete(*, actor: Any, grant: TriggerGrant) -> None:
    """Withdraw a grant: runs of the upstream project no longer start this project's workflows."""
    audit_record(actor=actor, action="trigger_grant.deleted", obj=grant, before=snapshot(grant), project=grant.project)
    grant.delete()
