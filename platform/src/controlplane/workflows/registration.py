"""Registering a CI build: validate its flowyard.json, record the version, deploy branch builds to `test`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment, Environment
from controlplane.tenancy.models import Project
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import config_hash

BRANCH_BUILD_ENVIRONMENT = "test"


@dataclass(frozen=True)
class Registration:
    """The outcome of a registration: the version, whether it is new, and where it was deployed."""

    version: WorkflowVersion
    created: bool
    deployment: Deployment | None


def validated_config(raw: Any) -> dict[str, Any]:
    """The config as the schema reads it (by alias), or ValidationFailed naming each field by its alias."""
    from pydantic import ValidationError

    from flowyard_spec.config import config_errors, parse_config

    if not isinstance(raw, dict):
        raise ValidationFailed({"non_field_errors": ["Must be a JSON object: the content of flowyard.json."]})
    try:
        parsed = parse_config(raw)
    except ValidationError as exc:
        raise ValidationFailed(config_errors(exc)) from None
    if parsed.schedule_enabled and not parsed.next_fire_times(timezone.now(), 1):
        raise ValidationFailed(
            {"schedule": [f"{parsed.schedule!r} never fires again; fix it or set schedule-enabled to false."]}
        )
    return parsed.model_dump(mode="json", by_alias=True, exclude_none=True)


# (config field, Project quota field, unit) of the per-run quotas checked at registration.
RUN_QUOTAS = (("cpu", "max_cpu_per_run", "CPU units"), ("memory", "max_memory_mib_per_run", "MiB"))


def quota_errors(project: Project, config: dict[str, Any]) -> dict[str, list[str]]:
    """Each cpu or memory of a valid `config` (base or any environment's) above `project`'s per-run quota.

    Keys are alias paths as in `config_errors` (`memory`, `environments.production.memory`). Every environment
    the config overrides and every environment of the project is checked through `for_environment`; a value
    an environment inherits is reported once, on the base field.
    """
    from flowyard_spec.config import parse_config

    parsed = parse_config(config)
    project_environments = Environment.objects.filter(project=project).values_list("name", flat=True)
    names = sorted(set(parsed.environments) | set(project_environments))
    found: dict[str, list[str]] = {}
    for field, quota_field, unit in RUN_QUOTAS:
        quota = getattr(project, quota_field)
        if quota is None:
            continue
        for name in (None, *names):
            value = getattr(parsed if name is None else parsed.for_environment(name), field)
            if value <= quota:
                continue
            override = parsed.environments.get(name) if name else None
            overridden = override is not None and field in override.model_fields_set
            path, where = (f"environments.{name}.{field}", f"in environment {name!r}: ") if overridden else (field, "")
            found.setdefault(path, [
                f"{where}{value} {unit} is above project {project.slug}'s quota of {quota} {unit} per run; "
                f"ask platform staff to raise it or lower {field}"
            ])
    return found


def check_quotas(project: Project, config: dict[str, Any]) -> None:
    """Raise ValidationFailed naming `config.<field>` when `config` asks for more than `project`'s quotas allow."""
    errors = quota_errors(project, config)
    if errors:
        raise ValidationFailed({f"config.{path}": problems for path, problems in errors.items()})


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


@transaction.atomic
def version_register_build(
    *, actor: Any, project: Project, workflow_name: str, image_digest: str, config: dict[str, Any], **git_and_image: Any
) -> Registration:
    """Register a CI build; the same digest again returns the existing version and changes nothing.

    The workflow is created on its first build. A build from a branch is deployed to `test` at once.
    A config above the project's cpu or memory quota, or whose `triggers.on_success` would close a loop of
    upstream triggers, is refused (ValidationFailed) and nothing is stored.
    One audit event records the whole registration.
    """
    if config.get("name") != workflow_name:
        raise ValidationFailed({"workflow": [f"Must equal the config's name {config.get('name')!r}."]})
    check_quotas(project, config)
    workflow, workflow_created = Workflow.objects.get_or_create(project=project, name=workflow_name)
    existing = WorkflowVersion.objects.filter(workflow=workflow, image_digest=image_digest).first()
    if existing is not None:
        return Registration(version=existing, created=False, deployment=None)
    from controlplane.scheduling.trigger_graph import check_trigger_cycles

    check_trigger_cycles(project, workflow_name, config)  # raising rolls back the workflow created above
    user, label = actor_user_and_label(actor)
    version = WorkflowVersion.objects.create(
        workflow=workflow, image_digest=image_digest, config=config, config_hash=config_hash(config),
        registered_by=user, registered_by_label=label, **git_and_image,
    )
    deployment = _deploy_branch_build(actor, workflow, version) if version.git_branch else None
    after = snapshot(version) | {
        "workflow_created": workflow_created,
        "deployed_to": deployment.environment.name if deployment else None,
    }
    audit_record(actor=actor, action="version.registered", obj=version, after=after, project=project)
    return Registration(version=version, created=True, deployment=deployment)
