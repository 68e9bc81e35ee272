"""Concurrency limits: whether a QUEUED run may be launched now."""

from __future__ import annotations

from controlplane.runs.models import Run
from flowyard_spec.states import ACTIVE_RUN_STATES, RunState

LAUNCHED_STATES = ACTIVE_RUN_STATES - {RunState.SCHEDULED, RunState.QUEUED}


def within_limits(run: Run) -> bool:
    """True when launching `run` keeps its deployment and its runtime target within their limits."""
    from controlplane.runs.launcher import effective_config

    limit = effective_config(run).concurrency
    if limit is not None:
        active = Run.objects.filter(deployment=run.deployment, state__in=LAUNCHED_STATES).count()
        if active >= limit:
            return False
    target = run.deployment.environment.runtime
    if target is not None and target.max_concurrent_runs is not None:
        active = Run.objects.filter(deployment__environment__runtime=target, state__in=LAUNCHED_STATES).count()
        if active >= target.max_concurrent_runs:
            return False
    return True
