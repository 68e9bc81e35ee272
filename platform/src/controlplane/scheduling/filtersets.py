"""Query filters for the scheduling objects that belong to one deployment (backfills, webhooks)."""

import django_filters

from controlplane.scheduling.models import Backfill, BackfillState, DeploymentWebhook


class DeploymentObjectFilterSet(django_filters.FilterSet):
    """Filter by the project, workflow, environment or deployment the object belongs to."""

    project = django_filters.UUIDFilter(field_name="deployment__environment__project_id")
    workflow = django_filters.UUIDFilter(field_name="deployment__workflow_id")
    environment = django_filters.UUIDFilter(field_name="deployment__environment_id")
    deployment = django_filters.UUIDFilter(field_name="deployment_id")


class BackfillFilterSet(DeploymentObjectFilterSet):
    """Filter backfills by project, workflow, environment, deployment and state."""

    state = django_filters.MultipleChoiceFilter(choices=BackfillState.choices)

    class Meta:
        model = Backfill
        fields = ["project", "workflow", "environment", "deployment", "state"]


class WebhookFilterSet(DeploymentObjectFilterSet):
    """Filter webhooks by project, workflow, environment, deployment or whether they are enabled."""

    class Meta:
        model = DeploymentWebhook
        fields = ["project", "workflow", "environment", "deployment", "is_enabled"]
