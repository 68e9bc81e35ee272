"""Workflows and their registered versions."""

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """The workflows app."""

    name = "controlplane.workflows"
    label = "workflows"
