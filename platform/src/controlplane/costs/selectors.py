"""Reads of costs, price tables and budgets, always scoped to what the given user may see."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from controlplane.costs.budgets import current_period, period_bounds
from controlplane.costs.models import PriceTable, RunCost
from controlplane.costs.models.run_costs import AMOUNT_DIGITS, AMOUNT_PLACES
from controlplane.runtimes.models import RuntimeTarget
from controlplane.tenancy.models import Project
from controlplane.tenancy.principals import is_person
from controlplane.tenancy.selectors import project_list

# What each rollup dimension groups by (the first field) and shows beside it.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "workflow": ("workflow_id", "workflow__name", "project__slug"),
    "project": ("project_id", "project__slug"),
    "team": ("team_id", "team__slug"),
}
AMOUNT = DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)


def run_cost_list(*, user: object) -> QuerySet[RunCost]:
    """Costs of the runs of the projects the user can see."""
    return RunCost.objects.filter(project__in=project_list(user=user)).select_related("project", "workflow")


def price_table_list(*, user: object) -> QuerySet[PriceTable]:
    """Every runtime target's own price table: prices are no tenant's secret, so every signed-in person reads them."""
    if not is_person(user):
        return PriceTable.objects.none()
    return PriceTable.objects.select_related("runtime_target")


def runtime_target_list(*, user: object) -> QuerySet[RuntimeTarget]:
    """The runtime targets a price table may be given to (staff are checked by the API)."""
    return RuntimeTarget.objects.all() if is_person(user) else RuntimeTarget.objects.none()


def _month_spent_of_project() -> Subquery:
    first, after = period_bounds(current_period())
    spent = (RunCost.objects.filter(project=OuterRef("pk"), day__gte=first, day__lt=after).order_by()
             .values("project").annotate(total=Sum("amount")).values("total"))
    return Coalesce(Subquery(spent, output_field=AMOUNT), Value(Decimal(0)), output_field=AMOUNT)


def budget_project_list(*, user: object) -> QuerySet[Project]:
    """The projects the user can see, each with its budget (if any) and what it spent this month."""
    return (project_list(user=user).select_related("team", "budget")
            .annotate(month_spent=_month_spent_of_project()).order_by("slug"))


def cost_rollup(
    costs: QuerySet[RunCost], *, since: datetime.date, until: datetime.date, group_by: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Costs of runs that ended from `since` to `until` (UTC days, both included), summed per `group_by`
    (a sequence of DIMENSIONS keys): (rows in order, totals)."""
    costs = costs.filter(day__gte=since, day__lte=until).order_by()
    fields = [field for dimension in group_by for field in DIMENSIONS[dimension]]
    metrics = {"amount": Sum("amount"), "runs": Count("run_id"), "wall_seconds": Sum("wall_seconds")}
    order = [DIMENSIONS[dimension][1] if dimension != "day" else "day" for dimension in group_by]
    rows = list(costs.values(*fields).annotate(**metrics).order_by(*order))
    totals = costs.aggregate(**metrics)
    return rows, totals
