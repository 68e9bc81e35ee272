"""Receivers of run signals: what scheduling does when a run ends, and the retries it refuses."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from controlplane.runs.models import Run
from controlplane.runs.signals import retry_requested, run_ended
from controlplane.scheduling import upstream
from controlplane.scheduling.models import Backfill, BackfillState


@receiver(run_ended, sender=Run, dispatch_uid="scheduling.upstream.start_downstream_runs")
def start_downstream_runs(sender: type, run_id: object, run: Run | None = None, **kwargs: object) -> None:
    """A run that SUCCEEDED starts the workflows its config names in `triggers.on_success`."""
    upstream.start_downstream_runs(run_id, run=run)


@receiver(retry_requested, sender=Run, dispatch_uid="scheduling.backfills.refuse_retry_of_cancelled_backfill")
def refuse_retry_of_cancelled_backfill(sender: type, run: Run, **kwargs: Any) -> str:
    """The runs of a cancelled backfill do not come back.

    The backfill's state is read under its row lock: a cancel that is committing waits for this retry to
    commit and then cancels it too, or commits first and this sees it.
    """
    if run.backfill_id is None:
        return ""
    cancelled = Backfill.objects.select_for_update().filter(pk=run.backfill_id, state=BackfillState.CANCELLED)
    return "its backfill was cancelled" if cancelled.exists() else ""
