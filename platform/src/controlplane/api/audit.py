"""Audit log API (read-only)."""

from rest_framework import serializers
from rest_framework.routers import SimpleRouter

from controlplane.api.access import VISIBLE
from controlplane.api.filtersets import AuditEventFilterSet
from controlplane.api.selectors import audit_event_list
from controlplane.api.views import ListRetrieveMixin, ScopedViewSet
from controlplane.core.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    """One audit event."""

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor_label", "action", "object_type", "object_id", "object_repr", "team", "project",
                  "before", "after"]


class AuditEventViewSet(ListRetrieveMixin, ScopedViewSet):
    """Who changed what, newest first: a project's events are visible to its members."""

    selector = staticmethod(audit_event_list)
    output_serializer = AuditEventSerializer
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE}  # a team's or a person's events have no project
    cursor_ordering = ("-at", "-id")
    filterset_class = AuditEventFilterSet


router = SimpleRouter()
router.register("audit-events", AuditEventViewSet, basename="audit-event")
urlpatterns = router.urls
