"""The one registration path: validate a build against the project's quotas and trigger graph, record the version,
and deploy a branch build to `test`. The API's `/registrations/` (CI) and `/versions/` (by workflow id) use it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment, Environment, Promotion, PromotionState
from controlplane.deployments.services import promotion_request
from controlplane.registration.quotas import check_quotas
from controlplane.scheduling.trigger_graph import check_trigger_cycles
from controlplane.tenancy.models import Project
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import config_hash

BRANCH_BUILD_ENVIRONMENT = "test"
PROMOTION_TARGET = "production"


@dataclass(frozen=True)
class Registration:
    """The outcome of a registration: the version, whether it is new, and its `test` deployment (made now, or
    already there for a known digest)."""

    version: WorkflowVersion
    created: bool
    deployment: Deployment | None
    promotion: Promotion | None = None


def _deploy_branch_build(actor: Any, workflow: Workflow, version: WorkflowVersion) -> Deployment | None:
    environment = Environment.objects.filter(project=workflow.project, name=BRANCH_BUILD_ENVIRONMENT).first()
    if environment is None:
        return None
    user, label = actor_user_and_label(actor)
    deployment, _ = Deployment.objects.select_for_update().get_or_create(workflow=workflow, environment=environment)
    deployment.version, deployment.deployed_by, deployment.deployed_by_label = version, user, label
    deployment.deployed_at = version.created_at
    deployment.save()
    return deployment


def _request_promotion(actor: Any, registration: Registration, requested_for: str, merge_request_url: str) -> Registration:
    """Ask for test → production of the registered version (deployed in test), or find the pending one that did.

    Another version's pending promotion is a conflict (promotion_pending): approve or reject that one first."""
    version = registration.version
    if registration.deployment is None or registration.deployment.version_id != version.pk:
        raise ValidationFailed({"request_promotion": [
            f"This build is not what runs in {BRANCH_BUILD_ENVIRONMENT} (register it with its git branch), so it "
            f"cannot be promoted to {PROMOTION_TARGET}."]})
    pending = Promotion.objects.filter(workflow=version.workflow, version=version, state=PromotionState.PENDING,
                                       target_environment__name=PROMOTION_TARGET).first()
    if pending is None:
        target = Environment.objects.filter(project=version.workflow.project, name=PROMOTION_TARGET).first()
        if target is None:
            raise ValidationFailed({"request_promotion": [f"Project {version.workflow.project.slug} has no "
                                                          f"{PROMOTION_TARGET} environment to promote to."]})
        pending = promotion_request(actor=actor, workflow=version.workflow,
                                    source_environment=registration.deployment.environment, target_environment=target,
                                    version=version, requested_for=requested_for, merge_request_url=merge_request_url)
    return dataclasses.replace(registration, promotion=pending)


@transaction.atomic
def version_register(
    *, actor: Any, project: Project, workflow_name: str, image_digest: str, config: dict[str, Any],
    deploy_branch_build: bool = True, request_promotion: bool = False, requested_for: str = "",
    merge_request_url: str = "", **git_and_image: Any,
) -> Registration:
    """Register a build (see `_register`); with `request_promotion`, also ask to promote it from test to
    production, as a default-branch pipeline does. The promotion is refused with everything else rolled back."""
    registration = _register(actor=actor, project=project, workflow_name=workflow_name, image_digest=image_digest,
                             config=config, deploy_branch_build=deploy_branch_build,
                             merge_request_url=merge_request_url, **git_and_image)
    if request_promotion:
        registration = _request_promotion(actor, registration, requested_for, merge_request_url)
    return registration


def _register(
    *, actor: Any, project: Project, workflow_name: str, image_digest: str, config: dict[str, Any],
    deploy_branch_build: bool = True, **git_and_image: Any,
) -> Registration:
    """Register a build of `project`'s workflow `workflow_name`; the same digest again returns the existing
    version and changes nothing.

    `config` is the build's flowyard.json, already valid (`workflows.configs.validated_config`). The workflow is
    created on its first build. A build from a branch is deployed to `test` at once unless
    `deploy_branch_build` is false (registering by workflow id records the version only). A config above the
    project's cpu or memory quota, or whose `triggers.on_success` would close a loop of upstream triggers, is
    refused (ValidationFailed) and nothing is stored. One audit event records the whole registration.
    """
    if config.get("name") != workflow_name:
        raise ValidationFailed({"workflow": [f"Must equal the config's name {config.get('name')!r}."]})
    check_quotas(project, config)
    workflow, workflow_created = Workflow.objects.get_or_create(project=project, name=workflow_name)
    existing = WorkflowVersion.objects.filter(workflow=workflow, image_digest=image_digest).first()
    if existing is not None:  # changes nothing; reports where that build runs in test, if it does
        in_test = Deployment.objects.filter(workflow=workflow, environment__name=BRANCH_BUILD_ENVIRONMENT,
                                            version=existing).select_related("environment").first()
        return Registration(version=existing, created=False, deployment=in_test)
    check_trigger_cycles(project, workflow_name, config)  # raising rolls back the workflow created above
    user, label = actor_user_and_label(actor)
    version = WorkflowVersion.objects.create(
        workflow=workflow, image_digest=image_digest, config=config, config_hash=config_hash(config),
        registered_by=user, registered_by_label=label, **git_and_image,
    )
    deployment = _deploy_branch_build(actor, workflow, version) if deploy_branch_build and version.git_branch else None
    after = snapshot(version) | {
        "workflow_created": workflow_created,
        "deployed_to": deployment.environment.name if deployment else None,
    }
    audit_record(actor=actor, action="version.registered", obj=version, after=after, project=project)
    return Registration(version=version, created=True, deployment=deployment)
