"""`flowyard-admin costs_backfill` prices ended runs that have no cost, once."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

from django.core.management import call_command

from controlplane.costs.models import RunCost
from controlplane.runs.models import Run


def test_ended_runs_without_a_cost_are_priced_and_a_second_pass_prices_nothing(tenant_a, fargate):
    start = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    Run.objects.filter(pk=tenant_a.run.pk).update(
        state="SUCCEEDED", started_at=start, ended_at=start + datetime.timedelta(hours=1), runtime_target=fargate)
    out = io.StringIO()
    call_command("costs_backfill", "--dry-run", stdout=out)
    assert "1 ended runs have no cost" in out.getvalue() and not RunCost.objects.exists()
    call_command("costs_backfill", stdout=out)
    assert RunCost.objects.get(run=tenant_a.run).amount == Decimal("0.04937")  # etl asks for the default 1 vCPU, 2 GiB
    out = io.StringIO()
    call_command("costs_backfill", stdout=out)
    assert "priced 0 runs" in out.getvalue() and RunCost.objects.count() == 1
