"""Audit log API (read-only)."""

from typing import Any

from rest_framework import serializers
from rest_framework.routers import SimpleRouter

from controlplane.core.api.views import ListRetrieveMixin, ScopedViewSet
from controlplane.core.filtersets import AuditEventFilterSet
from controlplane.core.models import AuditEvent
from controlplane.core.selectors import audit_event_list
from flowyard_spec.states import Role


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
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER}
    cursor_ordering = ("-at", "-id")
    filterset_class = AuditEventFilterSet

    def authorize(self, action: str, target: Any) -> None:  # noqa: D102 - visibility is the selector's
        return


router = SimpleRouter()
router.register("audit-events", AuditEventViewSet, basename="audit-event")
urlpatterns = router.urls
