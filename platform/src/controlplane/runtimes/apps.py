"""Runtime targets and the backends that launch runs on them (Docker, ECS, local processes)."""

from django.apps import AppConfig


class RuntimesConfig(AppConfig):
    """The runtimes app."""

    name = "controlplane.runtimes"
    label = "runtimes"
