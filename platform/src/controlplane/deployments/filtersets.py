"""Query filters for environments, deployments and promotions."""

import django_filters

from controlplane.deployments.models import Deployment, Environment, Promotion, PromotionState, ReleaseRules


class EnvironmentFilterSet(django_filters.FilterSet):
    """Filter environments by project, name, kind (standard or preview) or whether a preview is still live."""

    project = django_filters.UUIDFilter(field_name="project_id")
    live = django_filters.BooleanFilter(field_name="torn_down_at", lookup_expr="isnull")

    class Meta:
        model = Environment
        fields = ["project", "name", "kind", "live"]


class DeploymentFilterSet(django_filters.FilterSet):
    """Filter deployments by project, workflow, environment or pause state."""

    project = django_filters.UUIDFilter(field_name="environment__project_id")
    workflow = django_filters.UUIDFilter(field_name="workflow_id")
    environment = django_filters.UUIDFilter(field_name="environment_id")
    environment_name = django_filters.CharFilter(field_name="environment__name")

    class Meta:
        model = Deployment
        fields = ["project", "workflow", "environment", "environment_name", "is_paused"]


class PromotionFilterSet(django_filters.FilterSet):
    """Filter promotions by project, workflow or state."""

    project = django_filters.UUIDFilter(field_name="workflow__project_id")
    workflow = django_filters.UUIDFilter(field_name="workflow_id")
    state = django_filters.ChoiceFilter(choices=PromotionState.choices)

    class Meta:
        model = Promotion
        fields = ["project", "workflow", "state"]


class ReleaseRulesFilterSet(django_filters.FilterSet):
    """Filter release rules by project (id or slug)."""

    project = django_filters.UUIDFilter(field_name="project_id")
    project_slug = django_filters.CharFilter(field_name="project__slug")

    class Meta:
        model = ReleaseRules
        fields = ["project", "project_slug"]
