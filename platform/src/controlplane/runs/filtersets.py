"""Query filters for runs."""

import django_filters

from controlplane.runs.models import Run
from flowyard_spec.states import RunState


class RunFilterSet(django_filters.FilterSet):
    """Filter runs by project, workflow, environment, state and creation time range."""

    project = django_filters.UUIDFilter(field_name="deployment__environment__project_id")
    workflow = django_filters.UUIDFilter(field_name="deployment__workflow_id")
    environment = django_filters.UUIDFilter(field_name="deployment__environment_id")
    environment_name = django_filters.CharFilter(field_name="deployment__environment__name")
    deployment = django_filters.UUIDFilter(field_name="deployment_id")
    state = django_filters.MultipleChoiceFilter(choices=[(state.value, state.value) for state in RunState])
    backfill = django_filters.UUIDFilter(field_name="backfill_id")
    upstream_run = django_filters.UUIDFilter(field_name="upstream_run_id")
    late = django_filters.BooleanFilter(field_name="late_at", lookup_expr="isnull", exclude=True,
                                        help_text="true: only runs marked late; false: only runs never late.")
    scheduled_after = django_filters.IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="gte")
    scheduled_before = django_filters.IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="lt")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Run
        fields = ["project", "workflow", "environment", "environment_name", "deployment", "state", "trigger"]
