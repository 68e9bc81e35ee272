"""Portal pages: a project's audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from controlplane.api.selectors import audit_event_list
from controlplane.portal.forms import AuditFilterForm
from controlplane.tenancy.selectors import project_list

PAGE_SIZE = 50


def _filtered(events: QuerySet, filters: dict[str, Any]) -> QuerySet:
    if filters.get("project"):
        events = events.filter(project__slug=filters["project"])
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    if filters.get("actor"):
        events = events.filter(actor_label__iexact=filters["actor"])
    if filters.get("since"):
        events = events.filter(at__gte=filters["since"])
    if filters.get("until"):
        events = events.filter(at__lte=filters["until"])
    return events


def _after_cursor(events: QuerySet, cursor: str | None) -> QuerySet:
    """Events older than the event `cursor` names (keyset on at, id: the list's own order)."""
    if not cursor or not cursor.isdigit():
        return events
    last = events.filter(pk=int(cursor)).values("at", "pk").first()
    if last is None:
        return events.none()
    return events.filter(Q(at__lt=last["at"]) | Q(at=last["at"], pk__lt=last["pk"]))


@login_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    """The audit events of my projects (and my teams' and my own), newest first, filtered and a page at a time."""
    user = request.user
    visible = audit_event_list(user=user)
    form = AuditFilterForm(
        request.GET or None,
        projects=list(project_list(user=user).order_by("slug").values_list("slug", flat=True)),
        actions=list(visible.order_by("action").values_list("action", flat=True).distinct()),
    )
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = _filtered(visible.select_related("project", "team"), filters).order_by("-at", "-id")
    page = list(_after_cursor(events, request.GET.get("after"))[:PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("after", None)
    newest_query, next_query = query.urlencode(), ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        query["after"] = str(page[-1].pk)
        next_query = query.urlencode()
    return render(request, "portal/audit/audit.html", {
        "title": "Audit log", "form": form, "events": page, "next_query": next_query,
        "newest_query": newest_query, "first_page": "after" not in request.GET,
    })


urlpatterns = [path("audit/", audit, name="audit")]
