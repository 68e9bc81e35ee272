"""Which backend class serves which kind of runtime target."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from controlplane.runtimes.backends.base import RuntimeBackend

BACKENDS = {
    "docker": "controlplane.runtimes.backends.docker.DockerBackend",
    "ecs": "controlplane.runtimes.backends.ecs.EcsBackend",
    "local": "controlplane.runtimes.backends.local.LocalBackend",
}


def backend_for(kind: str, settings: Mapping[str, Any], *, installation_id: str = "") -> RuntimeBackend:
    """A backend instance for a target of `kind` with its settings, labelling and listing the workloads of
    installation `installation_id` (imports the backend's module lazily)."""
    module_name, _, class_name = BACKENDS[kind].rpartition(".")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(settings=settings, installation_id=installation_id)
