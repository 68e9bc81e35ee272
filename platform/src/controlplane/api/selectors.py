"""Reads of the audit log, scoped to what the user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from controlplane.core.models import AuditEvent
from controlplane.tenancy.principals import is_person
from controlplane.tenancy.selectors import project_list, team_list


def audit_event_list(*, user: object) -> QuerySet[AuditEvent]:
    """Events of visible projects, of visible teams outside any project, and the user's own personal events."""
    if not is_person(user):
        return AuditEvent.objects.none()
    if user.is_superuser:
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(
        Q(project__in=project_list(user=user))
        | Q(project__isnull=True, team__in=team_list(user=user))
        | Q(project__isnull=True, team__isnull=True, actor=user)
    )
