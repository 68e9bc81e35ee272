"""Preview environments: a merge request's own environment `mr-<number>`, made by its first pipeline, torn down
when the merge request closes (`flowyard ci teardown`) or after the project's TTL without a pipeline.

A preview uses its base environment's (test's) secrets, runtime target and config overrides, never
production's; its runs and deployments are its own. Tearing it down cancels its live runs, undeploys every
workflow (the deployment rows and their runs stay, as history) and marks it torn down; a later pipeline of the
same merge request brings it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import audit_record, snapshot
from controlplane.deployments.errors import DeploymentConflict
from controlplane.deployments.models import Deployment, Environment, EnvironmentKind, ReleaseRules
from controlplane.deployments.release import release_rules_of
from controlplane.runs.models import Run
from controlplane.runs.services import run_cancel
from controlplane.tenancy.models import Project
from flowyard_spec.pipelines import preview_environment_name
from flowyard_spec.states import ACTIVE_RUN_STATES


class PreviewLimitReached(DeploymentConflict):
    """The project already has as many live preview environments as its release rules allow."""

    code = "preview_limit"


def preview_of(project: Project, merge_request: int) -> Environment | None:
    """Merge request `merge_request`'s preview environment in `project` (live or torn down), if it ever had one."""
    return Environment.objects.filter(project=project, kind=EnvironmentKind.PREVIEW,
                                      name=preview_environment_name(merge_request)).first()


def live_previews(project: Project) -> list[Environment]:
    """The project's preview environments that are not torn down, oldest first."""
    return list(Environment.objects.filter(project=project, kind=EnvironmentKind.PREVIEW, torn_down_at__isnull=True)
                .order_by("created_at"))


@transaction.atomic
def preview_ensure(
    *, actor: Any, project: Project, rules: ReleaseRules, base: Environment, merge_request: int,
    merge_request_url: str = "", branch: str = "", author: str = "",
) -> Environment:
    """The live preview of `merge_request`: made on its first pipeline (or brought back after a teardown) within
    the project's preview limit, its labels and last pipeline time refreshed on every later one.

    Part of the registration's transaction: the project row is locked so that two first pipelines of different
    merge requests cannot both take the last free place.
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()
    name = preview_environment_name(merge_request)
    preview = Environment.objects.filter(project=project, name=name).first()
    if preview is not None and not preview.is_preview:
        raise DeploymentConflict(
            f"Project {project.slug} has a standing environment named {name}, so merge request !{merge_request} "
            f"cannot have a preview of that name; rename that environment.", code="preview_name_taken")
    now = timezone.now()
    if preview is None or not preview.is_live:
        others = [env.name for env in live_previews(project)]
        if len(others) >= rules.preview_limit:
            raise PreviewLimitReached(
                f"Project {project.slug} already has {len(others)} live preview environments ({', '.join(others)}), "
                f"its release rules' preview_limit of {rules.preview_limit}. Tear one down (`flowyard ci teardown` "
                f"in its merge request's pipeline, or POST /api/v1/previews/teardown/) or ask a project admin to "
                f"raise preview_limit (PATCH /api/v1/release-rules/…).",
                extra={"preview_limit": rules.preview_limit, "live_previews": others},
            )
    labels = {"merge_request_iid": merge_request, "merge_request_url": merge_request_url, "source_branch": branch,
              "author": author, "base_environment": base, "order": base.order, "last_pipeline_at": now,
              "description": f"Preview of merge request !{merge_request}" + (f" ({branch})" if branch else "")
                             + (f" by {author}" if author else "")}
    if preview is None:
        preview = Environment(project=project, name=name, kind=EnvironmentKind.PREVIEW, requires_approval=False,
                              **labels)
        preview.full_clean(validate_constraints=False)
        preview.save()
        audit_record(actor=actor, action="environment.preview_created", obj=preview, after=snapshot(preview),
                     project=project)
        return preview
    revived = not preview.is_live
    before = snapshot(preview)
    for field, value in labels.items():
        setattr(preview, field, value)
    preview.torn_down_at = None
    preview.save()
    if revived:
        audit_record(actor=actor, action="environment.preview_revived", obj=preview, before=before,
                     after=snapshot(preview), project=project)
    return preview


@transaction.atomic
def preview_teardown(*, actor: Any, environment: Environment, why: str = "") -> Environment:
    """Tear a preview down: cancel its live runs (their containers are stopped), undeploy every workflow, keep its
    history. Tearing down a torn-down preview changes nothing."""
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    if not environment.is_preview:
        raise DeploymentConflict(f"{environment.name} is not a preview environment; only previews are torn down.",
                                 code="not_a_preview")
    if not environment.is_live:
        return environment
    before = snapshot(environment)
    live_runs = Run.objects.filter(deployment__environment=environment, state__in=list(ACTIVE_RUN_STATES))
    cancelled = [str(run_cancel(actor=actor, run=run).pk) for run in live_runs]
    undeployed = []
    for deployment in Deployment.objects.select_for_update().filter(environment=environment).select_related("workflow"):
        if deployment.version_id is not None:
            undeployed.append(deployment.workflow.name)
        deployment.version = None
        deployment.is_paused = True
        deployment.save(update_fields=["version", "is_paused", "updated_at"])
    environment.torn_down_at = timezone.now()
    environment.save(update_fields=["torn_down_at", "updated_at"])
    audit_record(actor=actor, action="environment.preview_torn_down", obj=environment, before=before,
                 after=snapshot(environment) | {"cancelled_runs": cancelled, "undeployed": undeployed, "why": why},
                 project=environment.project)
    return environment


def previews_expire(*, now: datetime | None = None) -> list[str]:
    """Tear down every live preview whose last pipeline is older than its project's TTL; the names torn down."""
    now = now or timezone.now()
    expired = []
    for preview in Environment.objects.filter(kind=EnvironmentKind.PREVIEW, torn_down_at__isnull=True) \
            .select_related("project"):
        ttl = timedelta(days=release_rules_of(preview.project).preview_ttl_days)
        last = preview.last_pipeline_at or preview.created_at
        if last <= now - ttl:
            preview_teardown(actor=None, environment=preview,
                             why=f"no pipeline for {ttl.days} days (the project's preview_ttl_days)")
            expired.append(str(preview))
    return expired
