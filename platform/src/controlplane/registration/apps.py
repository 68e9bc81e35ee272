"""Registration: a built image of a workflow arrives (from CI or a person) and becomes a version, deployed where
its branch says. It sits above workflows, deployments and scheduling, which it all uses."""

from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    """The registration app (no models of its own)."""

    name = "controlplane.registration"
    label = "registration"
