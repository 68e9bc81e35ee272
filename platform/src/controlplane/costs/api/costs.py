"""Costs API: rollups of run costs per day, workflow, project and team (`/costs/`), and one run's cost."""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from typing_extensions import override

from controlplane.api.views import ScopedViewSet
from controlplane.core.errors import NotFound
from controlplane.costs import selectors
from controlplane.costs.budgets import current_period
from controlplane.costs.errors import RunNotPriced
from controlplane.costs.models import RunCost
from controlplane.runs.selectors import run_list
from controlplane.tenancy.models import Team
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import Role

DEFAULT_SINCE = "30d"
MAX_DAYS = 3660
SHOWN_PLACES = Decimal("0.000001")  # rollup amounts to a millionth; per-run costs keep every place
RELATIVE = re.compile(r"^(\d{1,4})d$")
GROUP_BY_HELP = "day, workflow, project or team; several comma-separated (e.g. project,day) to combine them"


def money(value: Decimal | None) -> str:
    """An amount as a string with six decimal places ("0.000000" for none)."""
    return str((value or Decimal(0)).quantize(SHOWN_PLACES))


def _today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


class CostQuerySerializer(serializers.Serializer):
    """What a rollup covers and how it is grouped."""

    project = serializers.CharField(required=False, help_text="A project's slug or id; default: every project you see.")
    team = serializers.CharField(required=False, help_text="A team's slug or id: only its projects.")
    since = serializers.CharField(
        required=False, default=DEFAULT_SINCE,
        help_text="The first UTC day: YYYY-MM-DD, or Nd for the last N days including today (default 30d).")
    until = serializers.DateField(required=False, help_text="The last UTC day, included (default: today).")
    group_by = serializers.CharField(required=False, default="day", help_text=f"Rows per {GROUP_BY_HELP}.")

    def validate_since(self, value: str) -> datetime.date:
        """A date, or a number of days back from today."""
        relative = RELATIVE.match(value.strip())
        if relative and 1 <= int(relative.group(1)) <= MAX_DAYS:
            return _today() - datetime.timedelta(days=int(relative.group(1)) - 1)
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise serializers.ValidationError(
                f"{value!r} is neither a date (YYYY-MM-DD) nor a number of days (e.g. 30d, from 1d to {MAX_DAYS}d)."
            ) from None

    def validate_group_by(self, value: str) -> list[str]:
        """Known dimensions, each once."""
        parts = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [part for part in parts if part not in selectors.DIMENSIONS]
        if not parts or unknown or len(set(parts)) != len(parts):
            raise serializers.ValidationError(f"{value!r} is not a grouping: use {GROUP_BY_HELP}, each once.")
        return parts

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """`since` comes before `until`, and the window is at most MAX_DAYS long."""
        until = attrs.get("until") or _today()
        if attrs["since"] > until:
            raise serializers.ValidationError({"since": [f"It is after until ({until}); give an earlier day."]})
        if (until - attrs["since"]).days >= MAX_DAYS:
            raise serializers.ValidationError({"since": [f"The window is longer than {MAX_DAYS} days; shorten it."]})
        return {**attrs, "until": until}


def _pick(queryset: QuerySet, value: str, *, slug_field: str, what: str) -> Any:
    """The object of `queryset` with this slug or id; NotFound (404) when the caller sees none."""
    try:
        found = queryset.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        found = queryset.filter(**{slug_field: value}).first()
    if found is None:
        raise NotFound(f"{what} {value!r} not found (it does not exist or you are not a member).")
    return found


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _row(row: dict[str, Any], group_by: list[str]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for dimension in group_by:
        if dimension == "day":
            shown["day"] = row["day"].isoformat()
        elif dimension == "workflow":
            shown.update(workflow=str(row["workflow_id"]), workflow_name=row["workflow__name"],
                         project_slug=row["project__slug"])
        elif dimension == "project":
            shown.update(project=str(row["project_id"]), project_slug=row["project__slug"])
        else:
            shown.update(team=str(row["team_id"]), team_slug=row["team__slug"])
    return {**shown, "runs": row["runs"], "wall_seconds": money(row["wall_seconds"]), "amount": money(row["amount"])}


def _project(project: Any) -> dict[str, Any]:
    budget = getattr(project, "budget", None)  # a project without one raises RelatedObjectDoesNotExist, an AttributeError
    return {
        "id": str(project.pk), "slug": project.slug, "team": str(project.team_id), "team_slug": project.team.slug,
        "monthly_budget": str(budget.monthly_amount) if budget else None, "month_spent": money(project.month_spent),
    }


class CostRollupSerializer(serializers.Serializer):
    """A rollup: its window and grouping, the total, every project it covers with its budget, and the rows."""

    since = serializers.DateField()
    until = serializers.DateField()
    group_by = serializers.ListField(child=serializers.CharField())
    currency = serializers.CharField()
    total = serializers.CharField(help_text="The sum of the rows' amounts.")
    runs = serializers.IntegerField()
    period = serializers.CharField(help_text='This UTC month ("YYYY-MM"), which month_spent covers.')
    projects = serializers.ListField(child=serializers.DictField(), help_text=(
        "The projects covered: id, slug, team, team_slug, monthly_budget (null if none), month_spent."))
    rows = serializers.ListField(child=serializers.DictField(), help_text=(
        "One per group: its dimensions (day; workflow, workflow_name, project_slug; project, project_slug; team, "
        "team_slug), runs, wall_seconds and amount."))


class CostViewSet(ScopedViewSet):
    """What runs cost, summed per day, workflow, project or team, over the projects you can see."""

    selector = staticmethod(selectors.run_cost_list)
    output_serializer = CostRollupSerializer
    action_roles = {"list": Role.VIEWER}
    pagination_class = None
    filter_backends: list = []

    @extend_schema(parameters=[CostQuerySerializer], responses=CostRollupSerializer)
    def list(self, request, *args, **kwargs):
        """Sum the costs of the runs that ended in the window (UTC days), per `group_by`."""
        query = CostQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        projects = selectors.budget_project_list(user=request.user)
        if params.get("team"):
            teams = Team.objects.filter(pk__in=project_list(user=request.user).values("team_id"))
            team = _pick(teams, params["team"], slug_field="slug", what="Team")
            projects = projects.filter(team=team)
        if params.get("project"):
            projects = projects.filter(pk=_pick(projects, params["project"], slug_field="slug", what="Project").pk)
        costs = self.get_queryset().filter(project__in=projects.values("pk"))
        rows, totals = selectors.cost_rollup(costs, since=params["since"], until=params["until"],
                                             group_by=params["group_by"])
        return Response({
            "since": params["since"].isoformat(), "until": params["until"].isoformat(), "group_by": params["group_by"],
            "currency": "USD", "total": money(totals["amount"]), "runs": totals["runs"], "period": current_period(),
            "projects": [_project(project) for project in projects],
            "rows": [_row(row, params["group_by"]) for row in rows],
        })


class RunCostSerializer(serializers.ModelSerializer):
    """One run's cost: what it asked for, how long it ran, the prices used and the amount."""

    run = serializers.UUIDField(source="run_id", read_only=True)
    project_slug = serializers.CharField(source="project.slug", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)

    class Meta:
        model = RunCost
        fields = [
            "run", "project", "project_slug", "team", "workflow", "workflow_name", "environment_name", "runtime_target",
            "runtime_target_name", "runtime_kind", "day", "vcpu", "gib", "wall_seconds", "cpu_seconds",
            "peak_memory_bytes", "vcpu_hour", "gib_hour", "price_source", "amount", "currency", "created_at",
        ]


class RunCostViewSet(ScopedViewSet):
    """The cost of one finished run, by the run's id (404 until it has ended and been priced)."""

    selector = staticmethod(selectors.run_cost_list)
    output_serializer = RunCostSerializer
    action_roles = {"retrieve": Role.VIEWER}
    lookup_field = "run_id"
    lookup_url_kwarg = "pk"

    @extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                                                description="The run's id.")])
    def retrieve(self, request, *args, **kwargs):
        """Show the run's cost."""
        return self.respond(self.get_object())

    @override  # a run you can see that has no cost yet says why
    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            if _is_uuid(self.kwargs["pk"]) and run_list(user=self.request.user).filter(pk=self.kwargs["pk"]).exists():
                raise RunNotPriced(f"Run {self.kwargs['pk']} has no cost yet: a run is priced when it ends.") from None
            raise


ROUTES: list = [("costs", CostViewSet, "cost"), ("run-costs", RunCostViewSet, "run-cost")]
URLS: list = []
