"""Alerts: notification rules and channels per project, and the delivery of each alert through Celery."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """The alerts app: it hears runs, schedules, promotions and budgets through their apps' signals."""

    name = "controlplane.alerts"
    label = "alerts"

    def ready(self) -> None:
        """Connect the receivers of the lower apps' signals."""
        from controlplane.alerts import receivers  # noqa: F401
