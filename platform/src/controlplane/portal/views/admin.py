"""Portal pages for platform admins: runtime targets and their health, quotas and usage per project."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from controlplane.runtimes.models import RuntimeTarget
from controlplane.tenancy.roles import is_platform_staff
from controlplane.tenancy.selectors import project_directory
from flowyard_spec.states import ACTIVE_RUN_STATES, RunReason, RunState

LAUNCHED_STATES = sorted(ACTIVE_RUN_STATES - {RunState.SCHEDULED, RunState.QUEUED})
# Failures that say more about the runtime target than about the workflow.
RUNTIME_FAILURE_REASONS = [RunReason.START_TIMEOUT, RunReason.HEARTBEAT_LOST, RunReason.WORKER_LOST]
DAY = datetime.timedelta(days=1)


def runtime_target_health(now: datetime.datetime) -> QuerySet[RuntimeTarget]:
    """Every runtime target with what its runs say about it: launched now, last launch, last heartbeat, runtime
    failures of the last 24 h (the runtimes app has no live health check to ask)."""
    return RuntimeTarget.objects.annotate(
        environment_count=Count("environments", distinct=True),
        launched_now=Count("runs", filter=Q(runs__state__in=LAUNCHED_STATES), distinct=True),
        runtime_failures_24h=Count("runs", distinct=True, filter=Q(
            runs__reason__in=RUNTIME_FAILURE_REASONS, runs__ended_at__gte=now - DAY)),
        last_launch=Max("runs__started_at"),
        last_heartbeat=Max("runs__heartbeat_at"),
    ).order_by("name")


def project_usage(user: Any, now: datetime.datetime) -> QuerySet:
    """Every project (staff see them all) with its quotas and usage: runs queued, launched now, in the last 24 h."""
    runs = "environments__deployments__runs"
    return project_directory(user=user).annotate(
        queued=Count(runs, distinct=True, filter=Q(environments__deployments__runs__state=RunState.QUEUED)),
        launched=Count(runs, distinct=True, filter=Q(environments__deployments__runs__state__in=LAUNCHED_STATES)),
        runs_24h=Count(runs, distinct=True, filter=Q(environments__deployments__runs__created_at__gte=now - DAY)),
    ).order_by("team__slug", "slug")


@login_required
@require_GET
def platform(request: HttpRequest) -> HttpResponse:
    """Runtime targets and their health; each project's quotas and usage. Platform staff only (others: 404)."""
    if not is_platform_staff(request.user):
        raise Http404("No such page.")
    now = timezone.now()
    return render(request, "portal/admin/platform.html", {
        "title": "Platform", "targets": list(runtime_target_health(now)),
        "projects": list(project_usage(request.user, now)), "now": now,
    })


urlpatterns = [path("platform/", platform, name="admin")]
