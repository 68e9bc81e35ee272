"""The reconciler: the runtime says what is true; every live run is compared with it and ended when due.

One pass (`reconcile_once`) looks at every non-terminal run and at every workload Flowyard launched:
- QUEUED runs are offered to the launcher again once they have waited `REOFFER_AFTER_SECONDS` (launching is
  idempotent; a younger run's own launch task is still on its way), and end as CRASHED
  (`start_timeout`) once they have waited longer than the start timeout;
- a STARTING or RUNNING run whose workload exited is ended from the exit: OOM → FAILED `oom_killed`, an image
  that could not run → FAILED `image_error`, 0 → SUCCEEDED, killed by a signal → CRASHED `heartbeat_lost`,
  any other code → FAILED `user_error` (unless the runner already reported the end, which stands);
- a workload that is gone → CRASHED `worker_lost`; a runner silent for longer than the heartbeat timeout →
  killed, CRASHED `heartbeat_lost`; a run past its config `timeout` → TIMED_OUT, killed; STARTING past the
  start timeout → killed, CRASHED `start_timeout`;
- CANCELLING runs are asked to stop again and become CANCELLED once the workload has exited;
- workloads of terminal runs (and of runs Flowyard does not know) are removed once they have exited, and
  killed first if they still run (a running one of an unknown run, an orphan, is reported: a warning and a
  `run.orphan_stopped` audit event); a terminal run's exit code and usage are recorded from its exited workload
  before the workload is removed (a runner reports the end before its container exits, so this is where a
  SUCCEEDED run gets them). A workload still running within `EXIT_GRACE_SECONDS` of its run's end is given
  that long to exit by itself before it is killed.
So no run stays non-terminal longer than its bound plus one reconcile interval, even after a restart of
the control plane: nothing here depends on memory of earlier passes.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, F, FloatField, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from controlplane.core.audit import SystemActor, audit_note
from controlplane.runs import lifecycle
from controlplane.runs.log_lines import store_system_lines
from controlplane.runs.models import Run, RunLogLine
from controlplane.runs.targets import target_of_run
from controlplane.runtimes.backends.base import RuntimeBackend, RuntimeBackendError, RuntimeStatus, WorkloadState
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import backend_of
from controlplane.workflows.configs import run_config
from flowyard_spec.states import TERMINAL_RUN_STATES, RunReason, RunState

logger = logging.getLogger(__name__)
SIGNAL_EXIT = 128
GRACEFUL_SIGNAL_EXITS = {130, 143}  # SIGINT, SIGTERM: the runner's own cancel exits
LISTING_LAG_SECONDS = 30
EXIT_GRACE_SECONDS = 10  # a run's end reported by its runner, its container still exiting
# A run QUEUED less than this ago has its own launch task on the way (enqueued on commit); offering it again during a
# burst only doubles the launch tasks, each finding the container the first one made.
REOFFER_AFTER_SECONDS = 10


def _seconds_since(moment: datetime.datetime | None, now: datetime.datetime) -> float:
    return (now - moment).total_seconds() if moment else 0.0


def _end(run_id: Any, target: RunState, reason: RunReason | None, message: str, status: RuntimeStatus | None = None) -> bool:
    """Apply a terminal state to a run unless something else ended it first; True when it changed."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.is_terminal:
            return False
        lifecycle.transition(run, target, reason=reason, message=message)
        _record_exit(run, status)
        run.save()
    logger.info("run %s: %s (%s) %s", run_id, target, reason or "", message)
    return True


def _record_exit(run: Run, status: RuntimeStatus | None) -> None:
    if status is None:
        return
    if status.exit_code is not None and run.exit_code is None:
        run.exit_code = status.exit_code
    if status.peak_memory_bytes:
        run.peak_memory_bytes = max(run.peak_memory_bytes or 0, status.peak_memory_bytes)
    if status.cpu_seconds:
        run.cpu_seconds = max(run.cpu_seconds or 0, status.cpu_seconds)


def _outcome_of_exit(status: RuntimeStatus) -> tuple[RunState, RunReason | None, str]:
    code = status.exit_code
    if status.oom_killed:
        return RunState.FAILED, RunReason.OOM_KILLED, f"Out of memory: the runtime killed it (exit {code})."
    if status.image_error:
        return RunState.FAILED, RunReason.IMAGE_ERROR, status.message or "The image could not be run."
    if code == 0:
        return RunState.SUCCEEDED, None, "The workload exited 0."
    if code is None:
        return RunState.CRASHED, RunReason.WORKER_LOST, status.message or "The workload vanished."
    if code > SIGNAL_EXIT and code not in GRACEFUL_SIGNAL_EXITS:
        return RunState.CRASHED, RunReason.HEARTBEAT_LOST, f"The runner was killed (signal {code - SIGNAL_EXIT})."
    if code in GRACEFUL_SIGNAL_EXITS:
        return RunState.CRASHED, RunReason.WORKER_LOST, f"Stopped outside Flowyard (exit {code})."
    return RunState.FAILED, RunReason.USER_ERROR, status.message or f"The workflow exited {code}."


def _keep_workload_output(run: Run, backend: RuntimeBackend) -> None:
    """When the runner reported no line at all (it never started), keep the workload's own output."""
    if RunLogLine.objects.filter(run=run).exists():
        return
    try:
        store_system_lines(run, [(line.at, line.stream, line.message) for line in backend.logs(str(run.pk))])
    except RuntimeBackendError as exc:
        logger.warning("run %s: could not read the workload's output: %s", run.pk, exc)


def _reconcile_run(run: Run, backend: RuntimeBackend, status: RuntimeStatus, now: datetime.datetime,
                   launch: Callable[[Any], None], sampled: list[Run]) -> None:
    config = settings.FLOWYARD
    state = RunState(run.state)
    if state == RunState.QUEUED:
        if _seconds_since(run.created_at, now) > config.start_timeout_seconds:
            _end(run.pk, RunState.CRASHED, RunReason.START_TIMEOUT,
                 f"Not started within {config.start_timeout_seconds:.0f} s. {run.message}".strip())
        elif _seconds_since(run.state_changed_at or run.created_at, now) >= REOFFER_AFTER_SECONDS:
            launch(run.pk)
        return
    if state == RunState.CANCELLING:
        if status.state in (WorkloadState.EXITED, WorkloadState.MISSING):
            _end(run.pk, RunState.CANCELLED, RunReason.CANCELLED, run.message or "Cancelled.", status)
        else:
            backend.terminate(str(run.pk), grace_seconds=config.cancel_grace_seconds)
        return
    if status.state == WorkloadState.MISSING:
        if run.state == RunState.STARTING and _seconds_since(run.state_changed_at, now) < LISTING_LAG_SECONDS:
            return  # some runtimes (ECS) list a task a moment after launching it
        _end(run.pk, RunState.CRASHED, RunReason.WORKER_LOST, "The workload disappeared from the runtime.")
        return
    if status.state == WorkloadState.EXITED:
        _keep_workload_output(run, backend)
        target, reason, message = _outcome_of_exit(status)
        _end(run.pk, target, reason, message, status)
        return
    _check_bounds(run, backend, status, now, sampled)


def _check_bounds(run: Run, backend: RuntimeBackend, status: RuntimeStatus, now: datetime.datetime,
                  sampled: list[Run]) -> None:
    """End a live run past its start timeout, its timeout or its heartbeat; else add it to `sampled` when its
    workload's usage rose (written for all of them at once at the end of the pass)."""
    config = settings.FLOWYARD
    run_id = str(run.pk)
    if run.state == RunState.STARTING and _seconds_since(run.state_changed_at, now) > config.start_timeout_seconds:
        if _end(run.pk, RunState.CRASHED, RunReason.START_TIMEOUT, "The runner never reported.", status):
            backend.kill(run_id)
        return
    if run.state == RunState.RUNNING:
        timeout = run_config(run).timeout
        if timeout and _seconds_since(run.started_at, now) > timeout:
            if _end(run.pk, RunState.TIMED_OUT, RunReason.TIMEOUT, f"Ran longer than its timeout of {timeout} s.", status):
                backend.kill(run_id)
            return
        silent = _seconds_since(run.heartbeat_at or run.started_at, now)
        if silent > config.heartbeat_timeout_seconds:
            if _end(run.pk, RunState.CRASHED, RunReason.HEARTBEAT_LOST, f"The runner was silent for {silent:.0f} s.", status):
                backend.kill(run_id)
            return
    before = (run.peak_memory_bytes, run.cpu_seconds)
    _record_exit(run, RuntimeStatus(state=status.state, peak_memory_bytes=status.peak_memory_bytes,
                                    cpu_seconds=status.cpu_seconds))
    if (run.peak_memory_bytes, run.cpu_seconds) != before:
        sampled.append(run)


def _record_exit_of_ended_run(run_id: str, status: RuntimeStatus) -> None:
    """Keep the exit code (unless one is recorded) and usage of a terminal run's exited workload, as
    `_record_exit` does, in one UPDATE (the database keeps the recorded code and the higher figures)."""
    if status.state != WorkloadState.EXITED:
        return
    changes: dict[str, Any] = {}
    if status.exit_code is not None:
        changes["exit_code"] = Coalesce(F("exit_code"), Value(status.exit_code))
    if status.peak_memory_bytes:
        changes["peak_memory_bytes"] = Greatest(Coalesce(F("peak_memory_bytes"), Value(0)),
                                                Value(status.peak_memory_bytes), output_field=BigIntegerField())
    if status.cpu_seconds:
        changes["cpu_seconds"] = Greatest(Coalesce(F("cpu_seconds"), Value(0.0)), Value(float(status.cpu_seconds)),
                                          output_field=FloatField())
    if changes:
        Run.objects.filter(pk=run_id).update(**changes)


def _report_orphan(target: RuntimeTarget, run_id: str, status: RuntimeStatus) -> None:
    """Say that a workload of a run Flowyard has no row for was stopped: in the log and in the audit log."""
    logger.warning("runtime target %s: workload %s (%s) belongs to no run; stopped", target.name, run_id, status.ref)
    audit_note(actor=SystemActor("reconciler"), action="run.orphan_stopped", object_type="workload",
               object_id=run_id, object_repr=f"workload of unknown run {run_id}"[:200],
               after={"runtime_target": target.name, "ref": status.ref, "state": status.state.value})


def _clean_up(target: RuntimeTarget, backend: RuntimeBackend, workloads: dict[str, RuntimeStatus], active_ids: set[str],
              now: datetime.datetime) -> None:
    ended_at = {
        str(pk): at for pk, at in
        Run.objects.filter(pk__in=[w for w in workloads if _is_uuid(w)], state__in=TERMINAL_RUN_STATES)
        .values_list("pk", "ended_at")
    }
    for run_id, status in workloads.items():
        if run_id in active_ids:
            continue
        if run_id not in ended_at and _is_uuid(run_id) and Run.objects.filter(pk=run_id).exists():
            continue  # a run that became active after we listed the runs: next pass
        if status.state in (WorkloadState.RUNNING, WorkloadState.PENDING):
            if ended_at.get(run_id) and _seconds_since(ended_at[run_id], now) < EXIT_GRACE_SECONDS:
                continue  # its runner reported the end a moment ago: let it exit with its own code
            backend.kill(run_id)  # its run is over (or unknown): nothing may keep running for it
            if run_id not in ended_at:
                _report_orphan(target, run_id, status)
        else:
            if run_id in ended_at:  # the full picture, as for live runs
                _record_exit_of_ended_run(run_id, status if backend.lists_full_status else backend.inspect(run_id))
            backend.remove(run_id)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def reconcile_once(launch: Callable[[Any], None]) -> None:
    """One pass over every live run and every workload; `launch(run_id)` offers a QUEUED run to the launcher."""
    now = timezone.now()
    live = list(
        Run.objects.exclude(state__in=TERMINAL_RUN_STATES).exclude(state=RunState.SCHEDULED)
        .select_related("deployment__environment__runtime", "version", "runtime_target")
    )
    by_target: dict[str, tuple[RuntimeBackend, list[Run]]] = {}
    for run in live:
        try:
            target = target_of_run(run)
        except RuntimeBackendError as exc:
            if run.state == RunState.QUEUED and _seconds_since(run.created_at, now) > settings.FLOWYARD.start_timeout_seconds:
                _end(run.pk, RunState.CRASHED, RunReason.START_TIMEOUT, str(exc))
            continue
        by_target.setdefault(str(target.pk), (backend_of(target), []))[1].append(run)
    for target in RuntimeTarget.objects.all():
        backend, runs = by_target.get(str(target.pk), (backend_of(target), []))
        try:
            workloads = backend.list_workloads()
        except RuntimeBackendError as exc:
            logger.warning("runtime target %s does not answer: %s", target.name, exc)
            continue
        sampled: list[Run] = []  # live runs whose usage rose: one write for all of them
        for run in runs:
            status = workloads.get(str(run.pk)) or RuntimeStatus(state=WorkloadState.MISSING)
            if status.state != WorkloadState.MISSING and not backend.lists_full_status:
                status = backend.inspect(str(run.pk))  # the full picture: exit code, OOM flag, usage
            try:
                _reconcile_run(run, backend, status, now, launch, sampled)
            except RuntimeBackendError as exc:
                logger.warning("run %s: runtime error while reconciling: %s", run.pk, exc)
        Run.objects.bulk_update(sampled, ["peak_memory_bytes", "cpu_seconds"])
        _clean_up(target, backend, workloads, {str(run.pk) for run in runs}, now)
