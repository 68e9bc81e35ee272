"""Scheduling and triggers."""

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    """The scheduling app; its signal receivers start downstream runs when a run succeeds."""

    name = "controlplane.scheduling"
    label = "scheduling"

    def ready(self) -> None:
        """Connect the receivers of run signals."""
        from controlplane.scheduling import receivers  # noqa: F401
