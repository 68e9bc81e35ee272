"""Celery tasks: each takes a run id, re-reads the run, and is safe to run twice (see runs/launcher.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from controlplane.runs.cache_records import cache_records_sweep
from controlplane.runs.launcher import run_launch
from controlplane.runs.models import Run
from controlplane.runs.queue import CANCEL_RUN, LAUNCH_RUN, REMOVE_RESULT_STORES
from controlplane.runs.reconciler import reconcile_once
from controlplane.runs.result_stores import result_stores_remove
from controlplane.runs.targets import backend_of_run
from controlplane.runtimes.backends.base import RuntimeBackendError

logger = logging.getLogger(__name__)


@shared_task(name=LAUNCH_RUN)
def launch_run(run_id: str) -> str | None:
    """Launch a QUEUED run on its runtime (nothing happens for a run that is not QUEUED any more)."""
    state = run_launch(run_id)
    return state.value if state else None


@shared_task(name=CANCEL_RUN)
def cancel_run(run_id: str) -> None:
    """Ask the runtime to stop a CANCELLING run's workload (SIGTERM, then SIGKILL after the grace)."""
    run = Run.objects.select_related("deployment__environment__runtime", "version", "runtime_target").filter(
        pk=run_id).first()
    if run is None or run.state != "CANCELLING":
        return
    try:
        backend_of_run(run).terminate(  # on the target it was launched on
            str(run.pk), grace_seconds=settings.FLOWYARD.cancel_grace_seconds
        )
    except RuntimeBackendError as exc:  # the reconciler asks again on its next pass
        logger.warning("run %s: could not stop the workload yet: %s", run_id, exc)


@shared_task(name="controlplane.runs.tasks.reconcile_runs")
def reconcile_runs() -> None:
    """One reconciler pass (driven by Celery beat every FLOWYARD_RECONCILE_SECONDS)."""
    reconcile_once(launch=lambda run_id: launch_run.delay(str(run_id)))


@shared_task(name=REMOVE_RESULT_STORES, bind=True, max_retries=30, default_retry_delay=60)
def remove_result_stores(self, environment_id: str) -> None:
    """Delete a deleted environment's cached results on every target; asked again a minute later while a host is
    silent or a run of it is still exiting (removing what is already gone is fine)."""
    pending = result_stores_remove(environment_id)
    if pending:
        logger.warning("environment %s: result stores not removed yet: %s", environment_id, "; ".join(pending))
        raise self.retry()


@shared_task(name="controlplane.runs.tasks.sweep_cache_records")
def sweep_cache_records() -> int:
    """Delete expired task cache records (beat sends it hourly; running it twice at once is harmless)."""
    deleted = cache_records_sweep()
    if deleted:
        logger.info("deleted %d expired task cache record(s)", deleted)
    return deleted
