"""Per-run quotas of a project, checked when a version is registered: cpu and memory of every environment."""

from __future__ import annotations

from typing import Any

from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Environment
from controlplane.tenancy.models import Project
from flowyard_spec.config import parse_config

# (config field, Project quota field, unit) of the per-run quotas checked at registration.
RUN_QUOTAS = (("cpu", "max_cpu_per_run", "CPU units"), ("memory", "max_memory_mib_per_run", "MiB"))


def quota_errors(project: Project, config: dict[str, Any]) -> dict[str, list[str]]:
    """Each cpu or memory of a valid `config` (base or any environment's) above `project`'s per-run quota.

    Keys are alias paths as in `config_errors` (`memory`, `environments.production.memory`). Every environment
    the config overrides and every environment of the project is checked through `for_environment`; a value
    an environment inherits is reported once, on the base field.
    """
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
