"""Which runtime target, and which backend instance, serves an environment."""

from __future__ import annotations

import threading

from controlplane.deployments.models import Environment
from controlplane.runtimes.backends.base import LaunchFailed, RuntimeBackend
from controlplane.runtimes.backends.registry import backend_for
from controlplane.runtimes.models import RuntimeTarget

_backends: dict[tuple[str, str], RuntimeBackend] = {}
_lock = threading.Lock()


def target_for_environment(environment: Environment) -> RuntimeTarget:
    """The environment's runtime target, or the default target; LaunchFailed when there is neither."""
    target = environment.runtime or RuntimeTarget.objects.filter(is_default=True).first()
    if target is None:
        raise LaunchFailed(
            f"Environment {environment} has no runtime target and there is no default one; platform staff can "
            "add one in the admin (Runtime targets)."
        )
    return target


def backend_of(target: RuntimeTarget) -> RuntimeBackend:
    """One backend instance per target and settings version (it keeps clients and samples between calls)."""
    key = (str(target.pk), target.updated_at.isoformat())
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = backend_for(target.kind, target.settings)
        return backend


def backend_for_environment(environment: Environment) -> RuntimeBackend:
    """The backend that launches the environment's runs."""
    return backend_of(target_for_environment(environment))
