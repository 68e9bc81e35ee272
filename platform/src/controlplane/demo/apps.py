"""The demo app: seeds demo teams, projects, users and tokens for `make demo`."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo app (no models): it holds the `seed_demo` management command."""

    name = "controlplane.demo"
    label = "demo"
