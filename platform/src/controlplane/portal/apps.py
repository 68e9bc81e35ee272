"""The portal: the web pages people use to watch runs, approve promotions and find workflows (top layer)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The portal app."""

    name = "controlplane.portal"
    label = "portal"
