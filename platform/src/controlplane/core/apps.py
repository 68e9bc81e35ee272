"""The bottom layer: base models, errors and the audit log (recording); it imports no other app."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The core app."""

    name = "controlplane.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"
