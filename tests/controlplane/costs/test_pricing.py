"""A finished run is priced by requested vCPU and GiB × wall time × its runtime target's prices, to the cent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from controlplane.costs import pricing
from controlplane.costs.models import PriceTable, RunCost
from controlplane.costs.prices import default_prices, prices_for_target
from controlplane.runs.models import Run
from controlplane.runs.signals import run_ended
from flowyard_spec.states import RunState

CENT = Decimal("0.01")

# (cpu units, memory MiB, seconds, dollars on Fargate us-east-1: vCPU × 0.04048 + GiB × 0.004445, per hour)
FARGATE_CASES = [
    (1024, 2048, 3600, Decimal("0.04937")),  # 1 vCPU, 2 GiB, one hour
    (4096, 16384, 9000, Decimal("0.5826")),  # 4 vCPU, 16 GiB, 2.5 hours: 0.23304 an hour
    (512, 1024, 600, Decimal("0.004114166667")),  # 0.5 vCPU, 1 GiB, 10 minutes
    (16384, 122880, 86400, Decimal("28.34592")),  # 16 vCPU, 120 GiB, a day: 0.64768 + 0.5334 an hour
]


def test_the_default_fargate_prices_are_the_published_us_east_1_on_demand_prices_with_their_source():
    ecs = default_prices()["ecs"]
    assert (ecs.vcpu_hour, ecs.gib_hour, ecs.currency) == (Decimal("0.04048"), Decimal("0.004445"), "USD")
    assert "aws.amazon.com/fargate/pricing" in ecs.source and "us-east-1" in ecs.source
    assert default_prices()["docker"].vcpu_hour == default_prices()["local"].gib_hour == 0


@pytest.mark.parametrize(("cpu", "memory", "seconds", "expected"), FARGATE_CASES)
def test_a_fargate_run_costs_what_the_price_table_says_to_the_cent(tenant_a, fargate, finish_run, cpu, memory, seconds,
                                                                    expected):
    run = finish_run(tenant_a, fargate, cpu=cpu, memory=memory, seconds=seconds)
    cost = RunCost.objects.get(run=run)
    assert cost.amount.quantize(CENT) == expected.quantize(CENT)
    assert abs(cost.amount - expected) < Decimal("0.000000001")
    assert (cost.vcpu, cost.gib, cost.wall_seconds) == (Decimal(cpu) / 1024, Decimal(memory) / 1024, Decimal(seconds))
    assert (cost.vcpu_hour, cost.gib_hour, cost.currency) == (Decimal("0.04048"), Decimal("0.004445"), "USD")
    assert (cost.runtime_target_name, cost.runtime_kind) == ("fargate", "ecs")


def test_a_price_table_of_the_target_replaces_its_kinds_defaults(tenant_a, docker_target, finish_run):
    PriceTable.objects.create(runtime_target=docker_target, vcpu_hour=Decimal("0.10"), gib_hour=Decimal("0.01"),
                              source="internal chargeback 2026")
    run = finish_run(tenant_a, docker_target, cpu=2048, memory=4096, seconds=1800)
    cost = RunCost.objects.get(run=run)
    assert cost.amount == Decimal("0.12")  # (2 × 0.10 + 4 × 0.01) × 0.5 h
    assert cost.price_source == "internal chargeback 2026"


def test_docker_and_local_targets_cost_nothing_unless_priced(tenant_a, docker_target, finish_run):
    run = finish_run(tenant_a, docker_target, cpu=4096, memory=8192, seconds=7200)
    cost = RunCost.objects.get(run=run)
    assert cost.amount == 0 and cost.wall_seconds == 7200 and "default for docker" in cost.price_source


def test_the_environments_override_of_cpu_and_memory_is_what_is_charged(tenant_a, fargate, finish_run):
    run = finish_run(tenant_a, fargate, cpu=256, memory=512, seconds=3600, deployment=tenant_a.production_deployment,
                     environments={"production": {"cpu": 2048, "memory": 4096}})
    cost = RunCost.objects.get(run=run)
    assert (cost.vcpu, cost.gib, cost.environment_name) == (Decimal(2), Decimal(4), "production")
    assert cost.amount == Decimal("0.09874")


def test_a_run_that_never_started_or_never_launched_costs_nothing(tenant_a, fargate, finish_run):
    unstarted = finish_run(tenant_a, fargate, started=False, state=RunState.CRASHED)
    unlaunched = finish_run(tenant_a, None, state=RunState.FAILED)
    assert RunCost.objects.get(run=unstarted).amount == 0 and RunCost.objects.get(run=unstarted).wall_seconds == 0
    cost = RunCost.objects.get(run=unlaunched)
    assert cost.amount == 0 and cost.runtime_target is None and "never launched" in cost.price_source
    assert prices_for_target(None).vcpu_hour == 0


def test_failed_and_cancelled_runs_are_charged_for_the_time_they_ran(tenant_a, fargate, finish_run):
    for state in (RunState.FAILED, RunState.TIMED_OUT, RunState.CRASHED):
        run = finish_run(tenant_a, fargate, seconds=3600, state=state)
        assert RunCost.objects.get(run=run).amount == Decimal("0.04937"), state


def test_measured_usage_is_kept_for_display_but_does_not_change_the_charge(tenant_a, fargate, finish_run):
    run = finish_run(tenant_a, fargate, seconds=3600, cpu_seconds=12.5, peak_memory_bytes=300 * 2**20)
    cost = RunCost.objects.get(run=run)
    assert (cost.cpu_seconds, cost.peak_memory_bytes, cost.amount) == (12.5, 300 * 2**20, Decimal("0.04937"))


def test_the_cost_carries_the_runs_project_team_workflow_and_utc_day(tenant_a, fargate, finish_run):
    late_evening = datetime.datetime(2026, 2, 28, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    run = finish_run(tenant_a, fargate, started_at=late_evening, seconds=60)
    cost = RunCost.objects.get(run=run)
    assert cost.day == datetime.date(2026, 3, 1), "the UTC date of ended_at"
    assert (cost.project, cost.team, cost.workflow) == (tenant_a.project, tenant_a.team, tenant_a.workflow)
    assert cost.environment_name == "test"


def test_a_run_is_priced_once_however_often_it_is_announced(tenant_a, fargate, finish_run):
    run = finish_run(tenant_a, fargate)
    first = RunCost.objects.get(run=run)
    PriceTable.objects.create(runtime_target=fargate, vcpu_hour=Decimal(1), gib_hour=Decimal(1))
    run_ended.send(sender=Run, run_id=run.pk)
    assert pricing.run_cost_record(run_id=run.pk) == first
    assert RunCost.objects.filter(run=run).count() == 1
    assert RunCost.objects.get(run=run).amount == first.amount, "a later price table does not reprice a run"


def test_a_run_that_has_not_ended_is_not_priced(tenant_a):
    assert pricing.run_cost_record(run_id=tenant_a.run.pk) is None
    assert not RunCost.objects.exists()


def test_wall_seconds_keep_microseconds_and_never_go_negative():
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert pricing.wall_seconds(start, start + datetime.timedelta(seconds=1, microseconds=5)) == Decimal("1.000005")
    assert pricing.wall_seconds(start, start - datetime.timedelta(seconds=1)) == 0
    assert pricing.wall_seconds(None, start) == 0
