"""Home: the signed-in person's projects at a glance."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from controlplane.deployments.models import PromotionState
from controlplane.portal.context_processors import CURRENT_PROJECT_KEY
from controlplane.deployments.selectors import promotion_list
from controlplane.runs.selectors import run_list
from controlplane.scheduling.selectors import schedule_list
from controlplane.scheduling.ticks import effective_schedule
from controlplane.tenancy.roles import role_for
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import RunState, Role

LAST_RUNS = 8
NEXT_TICKS = 5
ACTIVE_STATES = [state.value for state in RunState if not state.is_terminal]
FAILED_STATES = [RunState.FAILED, RunState.TIMED_OUT, RunState.CRASHED]


@dataclass
class ProjectSummary:
    """One project's card on the home page."""

    project: Any
    role: Role | None
    last_runs: list[Any] = field(default_factory=list)
    in_progress: list[Any] = field(default_factory=list)
    failures_24h: list[Any] = field(default_factory=list)
    next_ticks: list[tuple[datetime.datetime, Any]] = field(default_factory=list)


def _next_ticks(user: Any, project: Any, now: datetime.datetime) -> list[tuple[datetime.datetime, Any]]:
    ticks: list[tuple[datetime.datetime, Any]] = []
    for deployment in schedule_list(user=user).filter(environment__project=project, version__isnull=False):
        schedule = effective_schedule(deployment)
        if schedule.active:
            ticks += [(tick, deployment) for tick in schedule.next_fire_times(now, NEXT_TICKS)]
    return sorted(ticks, key=lambda item: item[0])[:NEXT_TICKS]


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """My projects: last runs, runs in progress, failures of the last 24 h, next ticks; promotions waiting for me."""
    user, now = request.user, timezone.now()
    runs = run_list(user=user)
    projects = project_list(user=user)
    if "project" in request.GET:  # the header's project switcher
        request.session[CURRENT_PROJECT_KEY] = request.GET["project"]
    current = request.session.get(CURRENT_PROJECT_KEY, "")
    if current and projects.filter(slug=current).exists():
        projects = projects.filter(slug=current)
    summaries = []
    for project in projects:
        project_runs = runs.filter(deployment__environment__project=project)
        summaries.append(ProjectSummary(
            project=project, role=role_for(user, project),
            last_runs=list(project_runs.order_by("-created_at")[:LAST_RUNS]),
            in_progress=list(project_runs.filter(state__in=ACTIVE_STATES).order_by("-created_at")[:LAST_RUNS]),
            failures_24h=list(project_runs.filter(state__in=FAILED_STATES, ended_at__gte=now - datetime.timedelta(days=1))
                              .order_by("-ended_at")[:LAST_RUNS]),
            next_ticks=_next_ticks(user, project, now),
        ))
    approvable = [p.project.pk for p in summaries if p.role is not None and p.role.includes(Role.APPROVER)]
    waiting = (promotion_list(user=user).filter(state=PromotionState.PENDING, workflow__project__in=approvable)
               .exclude(requested_by=user).select_related("workflow__project", "version", "target_environment")
               .order_by("-created_at")[:20])
    project = summaries[0].project if current and len(summaries) == 1 else None
    return render(request, "portal/home.html", {"summaries": summaries, "waiting": list(waiting), "title": "Home",
                                                "project": project})
