"""Run-level retries: a run that ended by the workflow's fault spends the config's `retries`; one that crashed
(the platform's fault) spends FLOWYARD_CRASH_RETRIES. The two are counted apart, along the retry chain.

Retries react to `run_ended` (connected in `RunsConfig.ready`); apps above runs may refuse a retry through
`retry_requested` (scheduling does, for the runs of a cancelled backfill)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from controlplane.core.audit import audit_record, snapshot
from controlplane.runs.models import Run
from controlplane.runs.queue import LAUNCH_RUN, enqueue_run_task
from controlplane.runs.signals import retry_requested, run_ended
from controlplane.workflows.configs import run_config
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
    end = (RunState(run.state), RunReason(run.reason) if run.reason else None)
    if end in USER_FAILURE_ENDS:
        return "user_error" if run.user_error_retries < (run_config(run).retries or 0) else None
    if end[0] == CRASH_STATE:
        return "crash" if run.crash_retries < settings.FLOWYARD.crash_retries else None
    return None  # succeeded, cancelled, or an image that cannot run: retrying changes nothing


def retry_if_due(run_id: Any) -> Run | None:
    """Queue the next attempt of a run that just ended, if its budget allows; at most one per run."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("version", "deployment__environment").get(pk=run_id)
        budget = retry_budget(run) if run.is_terminal else None
        if budget is None or Run.objects.filter(retry_of=run).exists() or _refused(run):
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
        transaction.on_commit(lambda: enqueue_run_task(LAUNCH_RUN, retry.pk))
    logger.info("run %s ended %s/%s: attempt %s queued as %s", run.pk, run.state, run.reason, retry.attempt, retry.pk)
    return retry


def _refused(run: Run) -> str:
    """Why a receiver of `retry_requested` refuses this retry ('' when none does)."""
    for _, answer in retry_requested.send(sender=Run, run=run):
        if answer:
            logger.info("run %s: not retried: %s", run.pk, answer)
            return answer
    return ""


@receiver(run_ended, sender=Run, dispatch_uid="runs.retries.retry_ended_run")
def retry_ended_run(sender: type, run_id: Any, run: Run | None = None, **kwargs: Any) -> None:
    """A run that ended by a failure its budget covers comes back as its next attempt (an end no budget covers,
    a success first of all, is told apart from the committed run without locking it)."""
    if run is not None and run.is_terminal and retry_budget(run) is None:
        return
    retry_if_due(run_id)
