"""What every portal page shares: the signed-in person's visible objects, 404 for anything else, their role."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role


def visible_or_404(queryset: QuerySet, **lookup: Any) -> Any:
    """The one object of a selector's queryset matching `lookup`; Http404 (the same page for missing and foreign)."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("No such page, or it belongs to a project you are not a member of.")
    return obj


def may(user: Any, project: Any, role: Role) -> bool:
    """True when the user's role on the project includes `role` (what decides which buttons a page shows)."""
    actual = role_for(user, project)
    return actual is not None and actual.includes(role)
