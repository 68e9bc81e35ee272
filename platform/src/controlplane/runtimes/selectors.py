"""Which runtime target, and which backend instance, serves an environment and a run's config.

A version's `cloud-execution-environment` (with the environment's override, if any) picks the kind of target:
`docker` → a Docker target, `fargate` or `ecs` → an ECS target, `local` → a local one. The environment's own
target comes first, then the default target; when neither is of that kind the run is refused
(`RuntimeKindUnavailable`, naming the key, the kind and the environment, and how to fix it). A config that does
not set the key runs on the environment's target, or the default one, as before the key was read.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from controlplane.deployments.models import Environment
from controlplane.runtimes.backends.base import LaunchFailed, RuntimeBackend
from controlplane.runtimes.backends.registry import backend_for
from controlplane.runtimes.installation import current_installation_id
from controlplane.runtimes.models import RuntimeTarget

RUNTIME_KEY = "cloud-execution-environment"
TARGET_KIND_OF_RUNTIME = {"docker": "docker", "fargate": "ecs", "ecs": "ecs", "local": "local"}
RUNTIME_OF_TARGET_KIND = {"docker": "docker", "ecs": "fargate", "local": "local"}

_backends: dict[tuple[str, str, str], RuntimeBackend] = {}
_lock = threading.Lock()


class RuntimeKindUnavailable(LaunchFailed):
    """The config's cloud-execution-environment asks for a kind of runtime target the environment does not have."""


def default_target() -> RuntimeTarget | None:
    """The target environments that name none run on (None when there is no default)."""
    return RuntimeTarget.objects.filter(is_default=True).first()


def target_for_environment(environment: Environment) -> RuntimeTarget:
    """The environment's runtime target, or the default target; LaunchFailed when there is neither."""
    target = environment.settings_source.runtime or default_target()  # a preview runs where its base does
    if target is None:
        raise LaunchFailed(
            f"Environment {environment} has no runtime target and there is no default one; platform staff can "
            "add one in the admin (Runtime targets)."
        )
    return target


def requested_runtime(config: Mapping[str, Any], environment_name: str) -> str | None:
    """The `cloud-execution-environment` a version's config (flowyard.json as stored) sets for an environment:
    its `environments.<name>` override first, then the top-level value; None when it sets none."""
    override = (config.get("environments") or {}).get(environment_name) or {}
    if RUNTIME_KEY in override:
        return override[RUNTIME_KEY]
    return config.get(RUNTIME_KEY)


def _refusal(environment: Environment, runtime: str, kind: str) -> RuntimeKindUnavailable:
    has = environment.settings_source.runtime or default_target()
    a_kind = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"
    where = f"its runtime target is {has}" if has is not None else "it has no runtime target and there is no default"
    instead = (f" set {RUNTIME_KEY} to {RUNTIME_OF_TARGET_KIND.get(has.kind, has.kind)!r} to run on {has.name}, or"
               if has is not None else "")
    return RuntimeKindUnavailable(
        f"{RUNTIME_KEY} is {runtime!r}, which runs on {a_kind} runtime target, but environment {environment} has "
        f"none ({where}). To fix it,{instead} remove {RUNTIME_KEY} from flowyard.json (or from its environments."
        f"{environment.config_name} overrides) to use the environment's target, or ask platform staff to give "
        f"environment {environment} {a_kind} runtime target (admin: Environments → runtime) or make one the default."
    )


def target_for_run_config(environment: Environment, config: Mapping[str, Any]) -> RuntimeTarget:
    """The target that runs a version's `config` (flowyard.json as stored) in `environment`.

    Raises `RuntimeKindUnavailable` when the config's cloud-execution-environment asks for a kind the environment
    has no target of, and LaunchFailed when there is no target at all. Usable at trigger time to refuse early.
    """
    runtime = requested_runtime(config, environment.config_name)
    if runtime is None:
        return target_for_environment(environment)
    kind = TARGET_KIND_OF_RUNTIME.get(runtime, runtime)
    for candidate in (environment.settings_source.runtime, default_target()):
        if candidate is not None and candidate.kind == kind:
            return candidate
    raise _refusal(environment, runtime, kind)


def backend_of(target: RuntimeTarget) -> RuntimeBackend:
    """One backend instance per target, settings version and installation (it keeps clients and usage samples)."""
    installation_id = current_installation_id()
    key = (str(target.pk), target.updated_at.isoformat(), installation_id)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = backend_for(target.kind, target.settings, installation_id=installation_id)
        return backend


def backend_for_environment(environment: Environment) -> RuntimeBackend:
    """The backend that launches the environment's runs when their config names no runtime."""
    return backend_of(target_for_environment(environment))


def backend_for_run_config(environment: Environment, config: Mapping[str, Any]) -> RuntimeBackend:
    """The backend that launches a version's `config` in `environment` (see `target_for_run_config`)."""
    return backend_of(target_for_run_config(environment, config))
