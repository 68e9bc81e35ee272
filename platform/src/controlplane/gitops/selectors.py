"""Reads of the gitops app, scoped to the caller's projects."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.gitops.models import ForgeDelivery, ForgeIdentity, MergeRequestPromotion, RepositoryLink
from controlplane.tenancy.roles import is_platform_staff
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import Role


def repository_link_list(*, user: object) -> QuerySet[RepositoryLink]:
    """Links of the projects the user can see."""
    return RepositoryLink.objects.filter(project__in=project_list(user=user)).select_related("project__team")


def forge_delivery_list(*, user: object) -> QuerySet[ForgeDelivery]:
    """Deliveries to links of the projects the user administers (their headers say who sent what)."""
    return ForgeDelivery.objects.filter(link__project__in=project_list(user=user, role=Role.ADMIN)).select_related(
        "link__project")


def merge_request_promotion_list(*, user: object) -> QuerySet[MergeRequestPromotion]:
    """Merge-request promotions of the projects the user can see."""
    return MergeRequestPromotion.objects.filter(workflow__project__in=project_list(user=user)).select_related(
        "merge_request__link__project", "workflow", "promotion__version")


def forge_identity_list(*, user: object) -> QuerySet[ForgeIdentity]:
    """Platform staff see every match; anyone else their own."""
    identities = ForgeIdentity.objects.select_related("user")
    return identities if is_platform_staff(user) else identities.filter(user_id=getattr(user, "pk", None))
