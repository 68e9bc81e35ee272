"""The API base layer as a Django app: it registers the OpenAPI extensions when Django starts."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The API base app (no models)."""

    name = "controlplane.api"
    label = "api"

    def ready(self) -> None:
        """Register the project's OpenAPI extensions (importing the module registers them)."""
        from controlplane.api import schema  # noqa: F401 - importing registers the extensions
