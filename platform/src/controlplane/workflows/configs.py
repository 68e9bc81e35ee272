"""A workflow's config as Flowyard reads it: validated on the way in, parsed with one environment's overrides
merged on the way out."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from pydantic import ValidationError

from controlplane.core.errors import ValidationFailed
from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.config import WorkflowConfig, config_errors, parse_config

_CACHE_SIZE = 4096
_cache: dict[tuple[Any, ...], WorkflowConfig] = {}


def version_config(version: WorkflowVersion, environment_name: str) -> WorkflowConfig:
    """`version`'s config with the overrides of environment `environment_name` applied."""
    return parse_config(version.config).for_environment(environment_name)


def run_config(run: Any) -> WorkflowConfig:
    """The config a run runs with: its own version's, with its deployment's environment overrides applied.

    `run` is a `runs.models.Run` (typed loosely: runs sit above workflows). It is the version the run was
    started with, not whatever is deployed now.
    """
    return version_config(run.version, run.deployment.environment.config_name)


def parsed_config(version: WorkflowVersion, environment_name: str | None = None) -> WorkflowConfig:
    """`version`'s config (with `environment_name`'s overrides, if given) parsed once per process.

    Versions are immutable, so (id, config hash) names a config. For hot paths that read the same versions again
    and again (the scheduler, every second).
    """
    key = (version.pk, version.config_hash, environment_name)
    config = _cache.get(key)
    if config is None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        base = parse_config(version.config) if environment_name is None else parsed_config(version)
        config = _cache[key] = base if environment_name is None else base.for_environment(environment_name)
    return config


def validated_config(raw: Any) -> dict[str, Any]:
    """The config as the schema reads it (by alias), or ValidationFailed naming each field by its alias."""
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
