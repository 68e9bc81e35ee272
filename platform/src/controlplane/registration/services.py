"""The one registration path: validate a build against the project's quotas and trigger graph, record the version,
and deploy it where the project's release rules send that kind of pipeline (test, a merge request's preview, or
nowhere), requesting its promotion to production for a default-branch build. The API's `/registrations/` (CI)
and `/versions/` (by workflow id, records only) use it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import PermissionDenied, ValidationFailed
from controlplane.deployments.models import (
    Deployment,
    Environment,
    EnvironmentKind,
    Promotion,
    PromotionState,
    ReleaseRules,
)
from controlplane.deployments.release import (
    PROMOTION_TARGET,
    ReleaseDecision,
    promotion_target,
    release_decision,
    release_rules_of,
)
from controlplane.deployments.services import deployment_ensure, promotion_request
from controlplane.registration.previews import preview_ensure
from controlplane.registration.quotas import check_quotas
from controlplane.registration.signals import version_registered
from controlplane.scheduling.trigger_graph import check_trigger_cycles
from controlplane.tenancy.models import Project
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import MAX_DESCRIPTION_LENGTH, config_hash
from flowyard_spec.pipelines import PipelineEvent


class ProtectedEnvironmentRefused(PermissionDenied):
    """CI never deploys to an environment that requires approval (production), whatever the rules say."""

    code = "protected_environment"


@dataclass(frozen=True)
class Registration:
    """The outcome of a registration: the version, whether it is new, where it is deployed (made now, or already
    there for a known digest), the promotion it asked for, and why it went where it went."""

    version: WorkflowVersion
    created: bool
    deployment: Deployment | None
    promotion: Promotion | None = None
    decision: ReleaseDecision | None = None


def _pipeline_event(event: str | None, git_branch: str, request_promotion: bool) -> PipelineEvent:
    """The pipeline kind; registrations that name none are a branch push when they carry a branch (as a build
    registered by hand), a default-branch build when they ask for the promotion (the older field)."""
    if event:
        return PipelineEvent(event)
    if request_promotion:
        return PipelineEvent.DEFAULT_BRANCH
    return PipelineEvent.BRANCH_PUSH if git_branch else PipelineEvent.OTHER


def _standing_environment(actor: Any, project: Project, name: str) -> Environment:
    """The standing environment a build goes to (or whose settings its preview takes); refused, and audited
    outside the registration's transaction so the refusal stays on record, when it requires approval."""
    environment = Environment.objects.filter(project=project, name=name, kind=EnvironmentKind.STANDARD).first()
    if environment is None:
        raise ValidationFailed({"release_rules.branch_environment": [
            f"Project {project.slug} has no environment {name!r}; a project admin sets the release rules' "
            "branch_environment to one of its environments."]})
    if environment.requires_approval:
        audit_record(actor=actor, action="deployment.refused", obj=environment, project=project, after={
            "why": "CI may not deploy to an environment that requires approval", "environment": environment.name})
        raise ProtectedEnvironmentRefused(
            f"CI never deploys to {environment.name}: it requires approval, so a build reaches it only through an "
            f"approved promotion. A project admin points the release rules' branch_environment at an open "
            f"environment (test).", extra={"environment": environment.name})
    return environment


def _request_promotion(actor: Any, registration: Registration, requested_for: str, merge_request_url: str) -> Registration:
    """Ask to promote the registered version (deployed in test) to production, or find the pending one that did.

    Another version's pending promotion is a conflict (promotion_pending): approve or reject that one first."""
    version, deployment = registration.version, registration.deployment
    if deployment is None or deployment.version_id != version.pk:
        raise ValidationFailed({"request_promotion": [
            f"This build is not deployed by this registration (register it with its git branch, from a pipeline "
            f"the release rules deploy), so it cannot be promoted to {PROMOTION_TARGET}."]})
    target = promotion_target(version.workflow.project)
    pending = Promotion.objects.filter(workflow=version.workflow, version=version, state=PromotionState.PENDING,
                                       target_environment=target).first() if target else None
    if pending is None:
        if target is None:
            raise ValidationFailed({"request_promotion": [f"Project {version.workflow.project.slug} has no "
                                                          f"{PROMOTION_TARGET} environment to promote to."]})
        pending = promotion_request(actor=actor, workflow=version.workflow, source_environment=deployment.environment,
                                    target_environment=target, version=version, requested_for=requested_for,
                                    merge_request_url=merge_request_url)
    return dataclasses.replace(registration, promotion=pending)


def version_register(
    *, actor: Any, project: Project, workflow_name: str, image_digest: str, config: dict[str, Any],
    deploy: bool = True, event: str | None = None, request_promotion: bool = False, requested_for: str = "",
    merge_request_url: str = "", **git_and_image: Any,
) -> Registration:
    """Register a build and carry out the project's release rules for its pipeline `event` (see
    `deployments.release`): deploy it to test, to its merge request's preview (made now if need be, within the
    preview limit), or nowhere, and request its promotion for a default-branch build. With `deploy` false (a
    registration by workflow id) the version is only recorded. Any refusal stores nothing."""
    excerpt = git_and_image.get("readme_excerpt") or ""
    if len(excerpt) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed({"readme_excerpt": [
            f"Ensure this field has no more than {MAX_DESCRIPTION_LENGTH} characters (it has {len(excerpt)}); "
            "send the README's first paragraph, not the README."]})
    kind = _pipeline_event(event, git_and_image.get("git_branch", ""), request_promotion)
    rules = release_rules_of(project)
    decision = ReleaseDecision(why="registered by workflow id: recorded only")
    if deploy:
        decision = release_decision(rules=rules, config=config, event=kind, branch=git_and_image.get("git_branch", ""),
                                    merge_request=git_and_image.get("merge_request_iid"))
    if request_promotion and not decision.request_promotion:
        raise ValidationFailed({"request_promotion": [f"This pipeline does not request promotions: {decision.why}."]})
    environment = _standing_environment(actor, project, decision.environment) if decision.environment else None
    return _register_and_release(actor=actor, project=project, rules=rules, workflow_name=workflow_name,
                                 image_digest=image_digest, config=config, decision=decision, environment=environment,
                                 requested_for=requested_for, merge_request_url=merge_request_url, **git_and_image)


@transaction.atomic
def _register_and_release(
    *, actor: Any, project: Project, rules: ReleaseRules, decision: ReleaseDecision, environment: Environment | None,
    requested_for: str, merge_request_url: str, **build: Any,
) -> Registration:
    """Record the build, then deploy it where `decision` says (`environment`, or the preview based on it) and
    request its promotion; one transaction, so a refusal (the preview limit, a pending promotion) stores nothing."""
    registration, workflow_created = _register(actor=actor, project=project, merge_request_url=merge_request_url,
                                               **build)
    if decision.preview is not None and environment is not None:
        environment = preview_ensure(
            actor=actor, project=project, rules=rules, base=environment, merge_request=decision.preview,
            merge_request_url=merge_request_url, branch=build.get("git_branch", ""),
            author=build.get("git_author", "") or requested_for)
    if environment is not None:
        deployment = deployment_ensure(actor=actor, workflow=registration.version.workflow, environment=environment,
                                       version=registration.version, audit=not registration.created)
        registration = dataclasses.replace(registration, deployment=deployment)
    registration = dataclasses.replace(registration, decision=decision)
    if registration.created:
        audit_record(actor=actor, action="version.registered", obj=registration.version, project=project,
                     after=snapshot(registration.version) | {
                         "workflow_created": workflow_created, "why": decision.why,
                         "deployed_to": registration.deployment.environment.name if registration.deployment else None})
    if decision.request_promotion:
        registration = _request_promotion(actor, registration, requested_for, merge_request_url)
    if registration.created or registration.deployment is not None:
        version_registered.send(sender=WorkflowVersion, version=registration.version,
                                deployment=registration.deployment)
    return registration


def _register(*, actor: Any, project: Project, workflow_name: str, image_digest: str, config: dict[str, Any],
              **git_and_image: Any) -> tuple[Registration, bool]:
    """Record a build of `project`'s workflow `workflow_name`; the same digest again returns the existing version.
    Also says whether the workflow was created now (on its first build).

    `config` is the build's flowyard.json, already valid (`workflows.configs.validated_config`). A config above
    the project's cpu or memory quota, or whose `triggers.on_success` would close a loop of upstream triggers, is
    refused (ValidationFailed) and nothing is stored.
    """
    if config.get("name") != workflow_name:
        raise ValidationFailed({"workflow": [f"Must equal the config's name {config.get('name')!r}."]})
    check_quotas(project, config)
    workflow, workflow_created = Workflow.objects.get_or_create(project=project, name=workflow_name)
    existing = WorkflowVersion.objects.filter(workflow=workflow, image_digest=image_digest).first()
    if existing is not None:
        return Registration(version=existing, created=False, deployment=None), workflow_created
    check_trigger_cycles(project, workflow_name, config)  # raising rolls back the workflow created above
    user, label = actor_user_and_label(actor)
    version = WorkflowVersion.objects.create(
        workflow=workflow, image_digest=image_digest, config=config, config_hash=config_hash(config),
        registered_by=user, registered_by_label=label, **git_and_image,
    )
    return Registration(version=version, created=True, deployment=None), workflow_created
