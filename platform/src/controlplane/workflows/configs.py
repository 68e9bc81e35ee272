"""A version's config as Flowyard applies it: parsed, with one environment's overrides merged."""

from __future__ import annotations

from typing import Any

from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.config import WorkflowConfig, parse_config

_CACHE_SIZE = 4096
_cache: dict[tuple[Any, ...], WorkflowConfig] = {}


def effective_config(version: WorkflowVersion, environment_name: str) -> WorkflowConfig:
    """`version`'s config with the overrides of environment `environment_name` applied."""
    return parse_config(version.config).for_environment(environment_name)


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
