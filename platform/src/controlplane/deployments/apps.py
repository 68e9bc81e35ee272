"""Environments, deployments and promotions."""

from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    """The deployments app."""

    name = "controlplane.deployments"
    label = "deployments"
