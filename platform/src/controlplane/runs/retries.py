"""Run-level retries: a run that ended by the workflow's fault spends the config's `retries`; one that crashed
(the platform's fault) spends FLOWYARD_CRASH_RETRIES. The two are counted apart, along the retry chain."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from controlplane.core.audit import audit_record, snapshot
from controlplane.runs.models import Run
from flowyard_spec.states import RunReason, RunState, TriggerKind

logger = logging.getLogger(__name__)

# Which ends are retried, and from which budget.
USER_FAILURE_ENDS = {
    (RunState.FAILED, RunReason.USER_ERROR),
    (RunState.FAILED, RunReason.OOM_KILLED),
    (RunState.TIMED_OUT, RunReason.TIMEOUT),
}
CRASH_STATE = RunState.CRASHED


def retry_budget(run: Run) -> str | None:
    """'user_error' or 'crash' when this end may be retried from that budget and some is left; else None."""
    from controlplane.runs.launcher import effective_config

    end = (RunState(run.state), RunReason(run.reason) if run.reason else None)
    if end in USER_FAILURE_ENDS:
        return "user_error" if run.user_error_retries < (effective_config(run).retries or 0) else None
    if end[0] == CRASH_STATE:
        return "crash" if run.crash_retries < settings.FLOWYARD.crash_retries else None
    return None  # succeeded, cancelled, or an image that cannot run: retrying changes nothing


def retry_if_due(run_id: Any) -> Run | None:
    """Queue the next attempt of a run that just ended, if its budget allows; at most one per run."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("version", "deployment__environment").get(pk=run_id)
        budget = retry_budget(run) if run.is_terminal else None
        if run.backfill_id is not None and _backfill_cancelled(run.backfill_id):
            budget = None  # the backfill was cancelled as a whole: none of its runs comes back
        if budget is None or Run.objects.filter(retry_of=run).exists():
            return None
        try:
            with transaction.atomic():
                retry = Run.objects.create(
                    deployment=run.deployment, version=run.version, state=RunState.QUEUED, trigger=TriggerKind.RETRY,
                    triggered_by_label=f"retry of {run.pk}", parameters=run.parameters, retry_of=run,
                    scheduled_for=run.scheduled_for, backfill_id=run.backfill_id, upstream_run_id=run.upstream_run_id,
                    attempt=run.attempt + 1,
                    user_error_retries=run.user_error_retries + (budget == "user_error"),
                    crash_retries=run.crash_retries + (budget == "crash"),
                )
        except IntegrityError:  # another process queued it first
            return None
        audit_record(actor=None, action="run.retried", obj=retry, after=snapshot(retry) | {"budget": budget},
                     project=run.deployment.environment.project)
        transaction.on_commit(lambda: _enqueue_launch(retry.pk))
    logger.info("run %s ended %s/%s: attempt %s queued as %s", run.pk, run.state, run.reason, retry.attempt, retry.pk)
    return retry


def _backfill_cancelled(backfill_id: Any) -> bool:
    """Whether the run's backfill is cancelled, read under its row lock: a cancel that is committing waits for
    this retry to commit and then cancels it too, or commits first and this sees it."""
    from controlplane.scheduling.models import Backfill, BackfillState

    return Backfill.objects.select_for_update().filter(pk=backfill_id, state=BackfillState.CANCELLED).exists()


def _enqueue_launch(run_id: Any) -> None:
    from controlplane.runs.services import enqueue_run_task

    enqueue_run_task("launch_run", run_id)
