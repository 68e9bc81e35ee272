"""Reads of the alerts app, scoped through the user: another team's channels, rules and deliveries are invisible."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.alerts.models import Channel, Delivery, Rule
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import Role


def channel_list(*, user: object) -> QuerySet[Channel]:
    """Channels of the projects the user can see (never their encrypted target or secret)."""
    return (Channel.objects.filter(project__in=project_list(user=user)).select_related("project")
            .defer("encrypted_target", "encrypted_secret"))


def rule_list(*, user: object) -> QuerySet[Rule]:
    """Rules of the projects the user can see."""
    return Rule.objects.filter(project__in=project_list(user=user)).select_related("project").prefetch_related(
        "channels")


def delivery_list(*, user: object) -> QuerySet[Delivery]:
    """Deliveries of the projects where the user is an admin, newest first, with their attempts."""
    return (Delivery.objects.filter(channel__project__in=project_list(user=user, role=Role.ADMIN))
            .select_related("channel__project", "alert__rule").prefetch_related("attempt_log"))
