"""Reads of environments, deployments and promotions, scoped to the user's projects."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.deployments.models import Deployment, Environment, Promotion, ReleaseRules
from controlplane.tenancy.selectors import project_list


def environment_list(*, user: object) -> QuerySet[Environment]:
    """Environments of the projects the user can see."""
    return Environment.objects.filter(project__in=project_list(user=user)).select_related("project")


def deployment_list(*, user: object) -> QuerySet[Deployment]:
    """Deployments of the projects the user can see."""
    return Deployment.objects.filter(environment__project__in=project_list(user=user)).select_related(
        "workflow", "environment__project", "version"
    )


def promotion_list(*, user: object) -> QuerySet[Promotion]:
    """Promotions of the projects the user can see, newest first."""
    return Promotion.objects.filter(workflow__project__in=project_list(user=user)).select_related(
        "workflow__project", "version", "source_environment", "target_environment"
    )


def release_rules_list(*, user: object) -> QuerySet[ReleaseRules]:
    """Release rules of the projects the user can see."""
    return ReleaseRules.objects.filter(project__in=project_list(user=user)).select_related("project__team")
