"""`flowyard-admin costs_backfill`: price the finished runs that have no cost yet (e.g. ended before costs existed)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from typing_extensions import override

from controlplane.costs import budgets, pricing
from controlplane.runs.models import Run
from flowyard_spec.states import RunState

TERMINAL = [state.value for state in RunState if state.is_terminal]


class Command(BaseCommand):
    """Price every ended run without a cost; then check this month's budgets of the projects touched."""

    help = __doc__

    @override
    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count the runs that would be priced")

    @override
    def handle(self, *args, **options):
        pending = Run.objects.filter(state__in=TERMINAL, ended_at__isnull=False, cost__isnull=True)
        run_ids = list(pending.values_list("pk", flat=True).order_by("ended_at"))
        if options["dry_run"]:
            self.stdout.write(f"{len(run_ids)} ended runs have no cost")
            return
        projects = set()
        for run_id in run_ids:
            cost = pricing.run_cost_record(run_id=run_id)
            if cost is not None and budgets.period_of(cost.day) == budgets.current_period():
                projects.add(cost.project_id)
        for project_id in projects:
            budgets.budget_check(project_id=project_id, period=budgets.current_period())
        self.stdout.write(f"priced {len(run_ids)} runs; checked this month's budget of {len(projects)} projects")
