"""Shared plumbing: base models, errors, audit, API base classes."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The core app."""

    name = "controlplane.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the OpenAPI extensions."""
        from controlplane.core.api import schema  # noqa: F401
