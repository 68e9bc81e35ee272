"""Environments, deployments and promotions."""

from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    """The deployments app; it gives every new project its environments (a `project_created` receiver)."""

    name = "controlplane.deployments"
    label = "deployments"

    def ready(self) -> None:
        """Connect the receivers of tenancy signals (importing the module connects them)."""
        from controlplane.deployments import receivers  # noqa: F401 - importing connects @receiver
