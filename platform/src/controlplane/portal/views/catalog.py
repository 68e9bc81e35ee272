"""Portal pages: the workflow catalog and a workflow's page."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from controlplane.deployments.selectors import deployment_list
from controlplane.portal.forms import CatalogFilterForm
from controlplane.portal.pages import visible_or_404
from controlplane.portal.schedule_words import schedule_in_words
from controlplane.runs.selectors import run_list
from controlplane.scheduling.ticks import EffectiveSchedule, effective_schedule
from controlplane.tenancy.selectors import project_list, project_member_list, team_member_list
from controlplane.workflows.selectors import version_list, workflow_list
from flowyard_spec.schedules import zone
from flowyard_spec.states import Role

NEXT_TICKS = 5
RECENT_RUNS = 20
PAGE_SIZE = 50


@dataclass(frozen=True)
class Tick:
    """One future scheduled run: the instant, and how it reads on the wall clock of the project's time zone."""

    at: datetime.datetime
    local: str


@dataclass
class EnvironmentRow:
    """A workflow in one environment: the deployed version and its schedule."""

    deployment: Any
    schedule: EffectiveSchedule
    schedule_words: str
    next_ticks: list[Tick]
    may_trigger: bool


@dataclass(frozen=True)
class Description:
    """What a workflow does, and where that was read: its version's flowyard.json ("config"), its version's README
    ("readme"), the workflow itself ("workflow"), or nowhere ("")."""

    text: str
    source: str

    @property
    def source_label(self) -> str:
        """Where the text came from, in words ("" when set on the workflow itself, or when there is none)."""
        return DESCRIPTION_SOURCES.get(self.source, "")


DESCRIPTION_SOURCES = {"config": "from flowyard.json", "readme": "from the README"}


@dataclass
class CatalogEntry:
    """One workflow as the catalog shows it."""

    workflow: Any
    owners: list[str]
    last_state: str | None
    description: Description = Description("", "")
    environments: list[EnvironmentRow] = field(default_factory=list)

    @property
    def is_scheduled(self) -> bool:
        """True when the schedule fires in at least one environment."""
        return any(row.schedule.active for row in self.environments)


def catalog_queryset(user: Any) -> QuerySet:
    """The workflows the user may see, with their deployments, owners, last run state and their latest version's
    description and README excerpt fetched in bulk."""
    admins = Role.ADMIN.value
    last_run = run_list(user=user).filter(deployment__workflow=OuterRef("pk")).order_by("-created_at", "-id")
    latest_version = version_list(user=user).filter(workflow=OuterRef("pk")).order_by("-created_at", "-id")
    deployments = (deployment_list(user=user).filter(environment__torn_down_at__isnull=True)
                   .select_related("environment__base_environment").order_by("environment__order", "environment__name"))
    return (
        workflow_list(user=user).select_related("project__team")
        .annotate(last_state=Subquery(last_run.values("state")[:1]),
                  latest_config_description=Subquery(latest_version.values(text=KT("config__description"))[:1]),
                  latest_readme_excerpt=Subquery(latest_version.values("readme_excerpt")[:1]))
        .prefetch_related(
            Prefetch("deployments", queryset=deployments, to_attr="live_deployments"),
            Prefetch("project__team__memberships", queryset=team_member_list(user=user).filter(role=admins),
                     to_attr="admin_memberships"),
            Prefetch("project__memberships", queryset=project_member_list(user=user).filter(role=admins),
                     to_attr="admin_memberships"),
        )
    )


def _next_ticks(schedule: EffectiveSchedule, now: datetime.datetime, project_timezone: str) -> list[Tick]:
    """The next ticks, read on the wall clock of the project's time zone (the schedule keeps its own)."""
    if not schedule.active:
        return []
    local_zone = zone(project_timezone)
    return [Tick(at=tick, local=f"{tick.astimezone(local_zone):%Y-%m-%d %H:%M}")
            for tick in schedule.next_fire_times(now, NEXT_TICKS)]


def workflow_description(workflow: Any) -> Description:
    """What a workflow of `catalog_queryset` does: the `description` of the flowyard.json of the version deployed
    furthest along the promotion order (production before test; a preview's only when nothing else is deployed),
    else of its latest version; else that version's README excerpt; else the workflow's own description."""
    deployed = [deployment for deployment in workflow.live_deployments if deployment.version is not None]
    deployed.sort(key=lambda deployment: (not deployment.environment.is_preview, deployment.environment.order))
    if deployed:
        version = deployed[-1].version
        config_description = (version.config or {}).get("description")
        readme = version.readme_excerpt
    else:
        config_description, readme = workflow.latest_config_description, workflow.latest_readme_excerpt
    for text, source in ((config_description, "config"), (readme, "readme"), (workflow.description, "workflow")):
        if isinstance(text, str) and text.strip():
            return Description(text.strip(), source)
    return Description("", "")


def catalog_entry(workflow: Any, *, developer_projects: set[Any], now: datetime.datetime) -> CatalogEntry:
    """A workflow of `catalog_queryset` as an entry: description, owners, and each environment's version and
    schedule."""
    memberships = workflow.project.team.admin_memberships + workflow.project.admin_memberships
    entry = CatalogEntry(workflow=workflow, owners=sorted({m.user.get_username() for m in memberships}),
                         last_state=workflow.last_state, description=workflow_description(workflow))
    for deployment in workflow.live_deployments:
        schedule = effective_schedule(deployment)
        entry.environments.append(EnvironmentRow(
            deployment=deployment, schedule=schedule, schedule_words=schedule_in_words(schedule.expression),
            next_ticks=_next_ticks(schedule, now, workflow.project.timezone),
            may_trigger=deployment.version_id is not None and workflow.project_id in developer_projects,
        ))
    return entry


def _filter_choices(user: Any) -> dict[str, list[str]]:
    projects = list(project_list(user=user).select_related("team"))
    admins = Role.ADMIN.value
    owners = {m.user.get_username() for m in team_member_list(user=user).filter(role=admins)}
    owners |= {m.user.get_username() for m in project_member_list(user=user).filter(role=admins)}
    return {"teams": sorted({p.team.slug for p in projects}), "projects": sorted(p.slug for p in projects),
            "owners": sorted(owners)}


def _matches(entry: CatalogEntry, search: str) -> bool:
    """True when `search` is in the workflow's name or in a description it has (any case)."""
    needle = search.casefold()
    return any(needle in text.casefold()
               for text in (entry.workflow.name, entry.description.text, entry.workflow.description))


def _filtered(workflows: QuerySet, filters: dict[str, Any]) -> QuerySet:
    if filters.get("team"):
        workflows = workflows.filter(project__team__slug=filters["team"])
    if filters.get("project"):
        workflows = workflows.filter(project__slug=filters["project"])
    if filters.get("owner"):
        admin = Role.ADMIN.value
        owned = (Q(project__team__memberships__user__username=filters["owner"], project__team__memberships__role=admin)
                 | Q(project__memberships__user__username=filters["owner"], project__memberships__role=admin))
        workflows = workflows.filter(pk__in=workflows.model.objects.filter(owned).values("pk"))
    if filters.get("state") == "NONE":
        workflows = workflows.filter(last_state__isnull=True)
    elif filters.get("state"):
        workflows = workflows.filter(last_state=filters["state"])
    return workflows


@login_required
@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    """Every workflow I may see: searchable, filterable, each with owners, schedule and deployed versions."""
    user, now = request.user, timezone.now()
    form = CatalogFilterForm(request.GET or None, **_filter_choices(user))
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    developer_projects = set(project_list(user=user, role=Role.DEVELOPER).values_list("pk", flat=True))
    entries = [catalog_entry(workflow, developer_projects=developer_projects, now=now)
               for workflow in _filtered(catalog_queryset(user), filters)]
    if filters.get("q"):  # here, not in SQL: the description shown may come from a version's config or README
        entries = [entry for entry in entries if _matches(entry, filters["q"])]
    if filters.get("schedule"):
        entries = [entry for entry in entries if entry.is_scheduled == (filters["schedule"] == "scheduled")]
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "portal/catalog/catalog.html", {
        "title": "Workflows", "form": form, "page": page, "query": query.urlencode(),
    })


@login_required
@require_GET
def workflow_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """One workflow: description, owners, schedule, deployed versions per environment, and its recent runs."""
    user = request.user
    workflow = visible_or_404(catalog_queryset(user), pk=pk)
    developer_projects = set(project_list(user=user, role=Role.DEVELOPER).filter(pk=workflow.project_id)
                             .values_list("pk", flat=True))
    entry = catalog_entry(workflow, developer_projects=developer_projects, now=timezone.now())
    runs = run_list(user=user).filter(deployment__workflow=workflow).order_by("-created_at", "-id")[:RECENT_RUNS]
    return render(request, "portal/catalog/workflow.html", {
        "title": f"{workflow.project.slug}/{workflow.name}", "entry": entry, "runs": list(runs),
        "project": workflow.project,
    })


urlpatterns = [
    path("workflows/", catalog, name="catalog"),
    path("workflows/<uuid:pk>/", workflow_detail, name="workflow"),
]
