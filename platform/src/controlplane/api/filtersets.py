"""Query filters for the audit log."""

import django_filters

from controlplane.core.models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    """Filter audit events by project, team, action, actor, object and time range."""

    project = django_filters.UUIDFilter(field_name="project_id")
    team = django_filters.UUIDFilter(field_name="team_id")
    actor = django_filters.CharFilter(field_name="actor_label")
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["project", "team", "action", "actor", "object_type", "object_id", "since", "until"]
