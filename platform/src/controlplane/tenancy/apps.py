"""Teams, projects, memberships and roles, API tokens."""

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    """The tenancy app."""

    name = "controlplane.tenancy"
    label = "tenancy"
