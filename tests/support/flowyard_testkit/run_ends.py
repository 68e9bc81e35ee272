"""Ending runs in tests the way the runner's report does: to RUNNING, then to a terminal state, in one transaction."""

from __future__ import annotations

from django.db import transaction

from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from flowyard_spec.states import RunReason, RunState


def end_run(run: Run, state: RunState, reason: RunReason | None = None) -> Run:
    """Bring a run to RUNNING, then end it; returns the run as stored (run_ended's receivers run on commit)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.RUNNING:
            lifecycle.transition(run, RunState.RUNNING)
        lifecycle.transition(run, state, reason=reason)
        run.save()
    return run
