"""Writes to environments, deployments and promotions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.core.services import model_update
from controlplane.core.signals import send_on_commit
from controlplane.deployments.errors import DeploymentConflict, SelfApprovalRefused
from controlplane.deployments.signals import (
    environment_deleted,
    promotion_approving,
    promotion_decided,
    promotion_requested,
)
from controlplane.deployments.models import (
    Deployment,
    Environment,
    Promotion,
    PromotionApproval,
    PromotionState,
    ReleaseRules,
)
from controlplane.tenancy.models import Project
from controlplane.workflows.models import Workflow, WorkflowVersion

DEFAULT_ENVIRONMENTS = (
    {"name": "test", "order": 10, "requires_approval": False, "description": "Branch builds land here."},
    {"name": "production", "order": 20, "requires_approval": True, "description": "Reached by approved promotion."},
)


def environments_create_defaults(*, project: Project) -> list[Environment]:
    """Create `test` and `production` and the default release rules for a new project (part of project_create;
    audited there)."""
    ReleaseRules.objects.get_or_create(project=project)
    return [Environment.objects.create(project=project, **spec) for spec in DEFAULT_ENVIRONMENTS]


@transaction.atomic
def release_rules_update(*, actor: Any, rules: ReleaseRules, **changes: Any) -> ReleaseRules:
    """Change a project's release rules (validated by the API: CI never gets a protected environment)."""
    return model_update(actor=actor, obj=rules, changes=changes, action="release_rules.updated", project=rules.project)


@transaction.atomic
def environment_create(*, actor: Any, project: Project, **fields: Any) -> Environment:
    """Add an environment to a project."""
    environment = Environment(project=project, **fields)
    environment.full_clean()
    environment.save()
    audit_record(actor=actor, action="environment.created", obj=environment, after=snapshot(environment), project=project)
    return environment


@transaction.atomic
def environment_update(*, actor: Any, environment: Environment, **changes: Any) -> Environment:
    """Change an environment's settings."""
    return model_update(
        actor=actor, obj=environment, changes=changes, action="environment.updated", project=environment.project
    )


@transaction.atomic
def environment_delete(*, actor: Any, environment: Environment) -> None:
    """Delete an environment nothing is deployed to."""
    if environment.is_preview:
        raise DeploymentConflict(
            f"{environment.name} is a merge request's preview: tear it down instead (POST /api/v1/previews/teardown/); "
            "its runs stay as history.", code="preview_environment")
    if environment.deployments.exists():
        raise DeploymentConflict(
            f"Environment {environment.name} has deployments; remove them first.", code="environment_in_use"
        )
    audit_record(
        actor=actor, action="environment.deleted", obj=environment, before=snapshot(environment),
        project=environment.project,
    )
    environment_id = environment.pk
    environment.delete()
    send_on_commit(environment_deleted, sender=Environment, environment_id=environment_id)


def _deploy(*, actor: Any, workflow: Workflow, environment: Environment, version: WorkflowVersion) -> Deployment:
    user, label = actor_user_and_label(actor)
    deployment, _ = Deployment.objects.select_for_update().get_or_create(workflow=workflow, environment=environment)
    deployment.version = version
    deployment.deployed_at = timezone.now()
    deployment.deployed_by = user
    deployment.deployed_by_label = label
    deployment.save()
    return deployment


def _check_same_project(workflow: Workflow, environment: Environment, version: WorkflowVersion | None) -> None:
    problems: dict[str, list[str]] = {}
    if environment.project_id != workflow.project_id:
        problems["environment"] = [f"Environment {environment.name} belongs to another project than the workflow."]
    if version is not None and version.workflow_id != workflow.pk:
        problems["version"] = ["This version belongs to another workflow; pick one of this workflow's versions."]
    if problems:
        raise ValidationFailed(problems)


@transaction.atomic
def deployment_set(
    *, actor: Any, workflow: Workflow, environment: Environment, version: WorkflowVersion, is_paused: bool = False
) -> Deployment:
    """Deploy `version` of `workflow` to `environment` directly (not through a promotion)."""
    _check_same_project(workflow, environment, version)
    existing = Deployment.objects.filter(workflow=workflow, environment=environment).first()
    before = snapshot(existing)
    deployment = _deploy(actor=actor, workflow=workflow, environment=environment, version=version)
    if deployment.is_paused != is_paused:
        deployment.is_paused = is_paused
        deployment.save(update_fields=["is_paused", "updated_at"])
    audit_record(
        actor=actor, action="deployment.deployed", obj=deployment, before=before, after=snapshot(deployment),
        project=environment.project,
    )
    return deployment


@transaction.atomic
def deployment_ensure(
    *, actor: Any, workflow: Workflow, environment: Environment, version: WorkflowVersion, audit: bool = True
) -> Deployment:
    """Have `version` run (unpaused) in `environment`; changes nothing when it already does, so a pipeline run
    again deploys nothing twice. `audit=False` when the caller's own audit event records the deployment (a new
    version's registration)."""
    deployment = Deployment.objects.select_for_update().filter(workflow=workflow, environment=environment).first()
    if deployment is not None and deployment.version_id == version.pk:
        return deployment
    before = snapshot(deployment)
    deployment = _deploy(actor=actor, workflow=workflow, environment=environment, version=version)
    if deployment.is_paused:
        deployment.is_paused = False
        deployment.save(update_fields=["is_paused", "updated_at"])
    if audit:
        audit_record(actor=actor, action="deployment.deployed", obj=deployment, before=before,
                     after=snapshot(deployment), project=environment.project)
    return deployment


@transaction.atomic
def deployment_update(
    *, actor: Any, deployment: Deployment, version: WorkflowVersion | None = None, is_paused: bool | None = None
) -> Deployment:
    """Change the deployed version or pause/resume a deployment's schedule."""
    before = snapshot(deployment)
    if version is not None:
        _check_same_project(deployment.workflow, deployment.environment, version)
        deployment = _deploy(actor=actor, workflow=deployment.workflow, environment=deployment.environment, version=version)
    if is_paused is not None:
        deployment.is_paused = is_paused
        deployment.save(update_fields=["is_paused", "updated_at"])
    audit_record(
        actor=actor, action="deployment.updated", obj=deployment, before=before, after=snapshot(deployment),
        project=deployment.environment.project,
    )
    return deployment


@transaction.atomic
def promotion_request(
    *,
    actor: Any,
    workflow: Workflow,
    source_environment: Environment,
    target_environment: Environment,
    version: WorkflowVersion | None = None,
    requested_for: str = "",
    comment: str = "",
    merge_request_url: str = "",
) -> Promotion:
    """Ask to move the version deployed in `source_environment` to `target_environment`."""
    problems: dict[str, list[str]] = {}
    for field, environment in (("source_environment", source_environment), ("target_environment", target_environment)):
        if environment.project_id != workflow.project_id:
            problems[field] = [f"Environment {environment.name} belongs to another project than the workflow."]
    if not problems and target_environment.is_preview:
        problems["target_environment"] = [f"{target_environment.name} is a merge request's preview: builds reach it "
                                          "from its merge request's pipeline, never by promotion."]
    stage = source_environment.settings_source  # a preview stands at its base's (test's) place
    if not problems and target_environment.order <= stage.order:
        problems["target_environment"] = [
            f"Promotions go forward: {target_environment.name} (order {target_environment.order}) does not come "
            f"after {source_environment.name} (order {stage.order})."
        ]
    source = Deployment.objects.filter(workflow=workflow, environment=source_environment).first()
    if not problems and (source is None or source.version is None):
        problems["source_environment"] = [
            f"Nothing of {workflow.name} is deployed to {source_environment.name}; deploy and test it there first."
        ]
    if not problems and version is not None and version.pk != source.version_id:
        problems["version"] = [
            f"Only the version deployed to {source_environment.name} can be promoted (build once, promote the artifact)."
        ]
    if problems:
        raise ValidationFailed(problems)
    if Promotion.objects.filter(
        workflow=workflow, target_environment=target_environment, state=PromotionState.PENDING,
        merge_request_url=merge_request_url,
    ).exists():
        raise DeploymentConflict(
            f"A promotion of {workflow.name} to {target_environment.name}"
            + (f" for {merge_request_url}" if merge_request_url else "")
            + " is already pending; approve or reject it first.",
            code="promotion_pending",
        )
    user, label = actor_user_and_label(actor)
    promotion = Promotion.objects.create(
        workflow=workflow,
        version=source.version,
        source_environment=source_environment,
        target_environment=target_environment,
        requested_by=user,
        requested_by_label=label,
        requested_for=requested_for,
        comment=comment,
        merge_request_url=merge_request_url,
    )
    audit_record(
        actor=actor, action="promotion.requested", obj=promotion, after=snapshot(promotion), project=workflow.project
    )
    send_on_commit(promotion_requested, Promotion, promotion_id=promotion.pk)
    return promotion


def _lock_pending(promotion: Promotion) -> Promotion:
    promotion = Promotion.objects.select_for_update().select_related("workflow__project").get(pk=promotion.pk)
    if promotion.state != PromotionState.PENDING:
        raise DeploymentConflict(f"This promotion is already {promotion.state.lower()}.", code="promotion_decided")
    return promotion


def _decide(*, actor: Any, promotion: Promotion, state: PromotionState, comment: str) -> Promotion:
    changes = {"state": state, "decided_by": actor_user_and_label(actor)[0], "decided_at": timezone.now()}
    if comment:
        changes["comment"] = comment
    send_on_commit(promotion_decided, Promotion, promotion_id=promotion.pk)
    return model_update(
        actor=actor, obj=promotion, changes=changes, action=f"promotion.{state.lower()}",
        project=promotion.workflow.project,
    )


def is_authors(promotion: Promotion, user: Any) -> bool:
    """Whether `user` asked for the promotion or is the change's author (`requested_for`): they may not approve."""
    return promotion.requested_by_id == user.pk or bool(
        promotion.requested_for and promotion.requested_for == user.get_username())


@transaction.atomic
def promotion_deploy(*, actor: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Mark a pending promotion APPROVED and deploy its exact version to the target environment, once: the caller
    has counted its approvals (the API's below, or a merge request's in the gitops app)."""
    return _deploy_approved(actor=actor, promotion=_lock_pending(promotion), comment=comment)


def _deploy_approved(*, actor: Any, promotion: Promotion, comment: str) -> Promotion:
    """Deploy a promotion already locked and pending, and mark it APPROVED."""
    _deploy(actor=actor, workflow=promotion.workflow, environment=promotion.target_environment, version=promotion.version)
    return _decide(actor=actor, promotion=promotion, state=PromotionState.APPROVED, comment=comment)


@transaction.atomic
def promotion_approve(*, actor: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Add `actor`'s approval; once the target environment's `required_approvals` people other than the change's
    author have approved, deploy its exact version there (APPROVED). Until then it stays PENDING."""
    promotion = _lock_pending(promotion)
    promotion_approving.send(sender=Promotion, promotion=promotion, actor=actor)
    if is_authors(promotion, actor):
        raise SelfApprovalRefused(
            "You cannot approve your own change (you asked for this promotion or it is requested for you); "
            "another approver of the project must approve it.")
    if PromotionApproval.objects.filter(promotion=promotion, user=actor).exists():
        raise DeploymentConflict("You have approved this promotion already; it needs another approver.",
                                 code="already_approved")
    PromotionApproval.objects.create(promotion=promotion, user=actor, comment=comment)
    given, needed = promotion.approvals.count(), promotion.target_environment.required_approvals
    if given < needed:  # one audit event per approval: given now, or the approval that deploys
        audit_record(actor=actor, action="promotion.approval_given", obj=promotion, project=promotion.workflow.project,
                     after={"approvals": given, "required_approvals": needed, "comment": comment})
        return promotion
    return _deploy_approved(actor=actor, promotion=promotion, comment=comment)


@transaction.atomic
def promotion_reject(*, actor: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Reject a pending promotion; nothing is deployed."""
    promotion = _lock_pending(promotion)
    return _decide(actor=actor, promotion=promotion, state=PromotionState.REJECTED, comment=comment)
