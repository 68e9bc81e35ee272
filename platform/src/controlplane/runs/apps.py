"""Runs, task runs and their log lines."""

from django.apps import AppConfig


class RunsConfig(AppConfig):
    """The runs app."""

    name = "controlplane.runs"
    label = "runs"
