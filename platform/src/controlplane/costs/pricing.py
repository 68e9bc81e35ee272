"""Pricing a finished run: requested vCPU and GiB × wall time × its runtime target's prices (as Fargate bills).

Measured usage (cpu_seconds, peak_memory_bytes) is copied onto the cost for display; it does not change the charge.
"""

from __future__ import annotations

import contextlib
import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction

from controlplane.costs.models import RunCost
from controlplane.costs.models.run_costs import AMOUNT_PLACES
from controlplane.costs.prices import Prices, prices_for_target
from controlplane.runs.lifecycle import ended_run
from controlplane.runs.models import Run
from controlplane.workflows.configs import run_config

CPU_UNITS_PER_VCPU = Decimal(1024)  # ECS units, as flowyard.json's `cpu`
MIB_PER_GIB = Decimal(1024)  # flowyard.json's `memory` is in MiB
SECONDS_PER_HOUR = Decimal(3600)
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)


def wall_seconds(started_at: datetime.datetime | None, ended_at: datetime.datetime | None) -> Decimal:
    """Seconds from start to end, to the microsecond; 0 when the run never started (or times are reversed)."""
    if started_at is None or ended_at is None or ended_at <= started_at:
        return Decimal(0)
    delta = ended_at - started_at
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros).scaleb(-6)


def run_amount(*, vcpu: Decimal, gib: Decimal, seconds: Decimal, prices: Prices) -> Decimal:
    """(vCPU × vCPU-hour price + GiB × GiB-hour price) × hours, kept to AMOUNT_PLACES decimal places."""
    per_hour = vcpu * prices.vcpu_hour + gib * prices.gib_hour
    return (per_hour * seconds / SECONDS_PER_HOUR).quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_UP)


def requested_resources(run: Run) -> tuple[Decimal, Decimal]:
    """(vCPU, GiB) the run asked for: its version's config with its environment's overrides."""
    config = run_config(run)
    return Decimal(config.cpu) / CPU_UNITS_PER_VCPU, Decimal(config.memory) / MIB_PER_GIB


def _cost_fields(run: Run) -> dict[str, Any]:
    vcpu, gib = requested_resources(run)
    seconds = wall_seconds(run.started_at, run.ended_at)
    target = run.runtime_target
    prices = prices_for_target(target)
    environment = run.deployment.environment
    return {
        "project": environment.project, "team_id": environment.project.team_id, "workflow_id": run.deployment.workflow_id,
        "environment_name": environment.name, "runtime_target": target,
        "runtime_target_name": target.name if target else "", "runtime_kind": target.kind if target else "",
        "day": run.ended_at.astimezone(datetime.UTC).date(), "vcpu": vcpu, "gib": gib, "wall_seconds": seconds,
        "cpu_seconds": run.cpu_seconds, "peak_memory_bytes": run.peak_memory_bytes,
        "vcpu_hour": prices.vcpu_hour, "gib_hour": prices.gib_hour, "price_source": prices.source[:500],
        "amount": run_amount(vcpu=vcpu, gib=gib, seconds=seconds, prices=prices), "currency": prices.currency,
    }


def run_cost_record(*, run_id: Any, run: Run | None = None) -> RunCost | None:
    """Price a finished run once: the existing cost if it has one, None while the run has not ended.

    `run`, when the caller has it (`run_ended` sends it), is the run as committed with its deployment's
    environment and project, its version and its runtime target loaded; otherwise it is read here."""
    if run is None:  # a caller with only the id (the backfill): a priced run is not read again
        existing = RunCost.objects.filter(run_id=run_id).first()
        if existing is not None:
            return existing
        run = ended_run(run_id)
    if run is None or not run.is_terminal or run.ended_at is None:
        return None
    cost = RunCost(run=run, **_cost_fields(run))
    try:
        # One INSERT, autocommitted; in a caller's transaction, inside a savepoint (a conflict must not break it).
        with transaction.atomic() if transaction.get_connection().in_atomic_block else contextlib.nullcontext():
            cost.save(force_insert=True)
    except IntegrityError:  # priced before, or meanwhile by another hearing of the run's end: that price stands
        return RunCost.objects.get(run_id=run_id)
    return cost
