"""Single sign-on: OpenID Connect login for the browser and the CLI, SSO accounts and their periodic re-check."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """The sso app (above tenancy, whose group mappings decide a person's roles)."""

    name = "controlplane.sso"
    label = "sso"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the audit receivers of password sign-ins."""
        from controlplane.sso import receivers  # noqa: F401
