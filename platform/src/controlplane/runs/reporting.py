"""What the runner reports: applying a batch of runner events in one transaction."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from pydantic import TypeAdapter, ValidationError

from controlplane.core.errors import ValidationFailed
from controlplane.runs import lifecycle
from controlplane.runs.errors import TransitionRefused
from controlplane.runs.log_lines import masker_for
from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.runs.models.runs import MAX_EARLIER_ATTEMPTS
from flowyard_spec.api import MAX_UPSTREAM_KEYS, EventBatch, EventBatchReply
from flowyard_spec.states import RunReason, RunState, TaskState

logger = logging.getLogger(__name__)
_BATCH = TypeAdapter(EventBatch)

# The lifecycle target for each run state a runner may report, tried from the run's current state.
_REPORTED = {
    "RUNNING": RunState.RUNNING,
    "SUCCEEDED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "CANCELLED": RunState.CANCELLED,
}
# Task states an attempt has left once it is RETRYING.
_BEFORE_RETRYING = frozenset({TaskState.PENDING, TaskState.RUNNING})


def _parse_batch(payload: Any) -> list[dict[str, Any]]:
    try:
        batch = _BATCH.validate_python(payload)
    except ValidationError as exc:
        fields: dict[str, list[str]] = {}
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"] if not str(part).endswith("Event"))
            fields.setdefault(path or "events", []).append(error["msg"])
        raise ValidationFailed(fields) from None
    problems: dict[str, list[str]] = {}
    for index, event in enumerate(batch["events"]):
        try:
            event["at"] = datetime.datetime.fromisoformat(event["at"])
            if event["at"].tzinfo is None:
                raise ValueError
        except ValueError:
            problems[f"events.{index}.at"] = ["Use an ISO 8601 time with a timezone, e.g. 2026-01-01T12:00:00+00:00."]
        if event["type"] == "log" and event["seq"] < 1:
            problems[f"events.{index}.seq"] = ["Log sequence numbers start at 1."]
        if event["type"] == "task" and event["state"] not in TaskState.__members__:
            problems[f"events.{index}.state"] = [f"Use one of {', '.join(TaskState)}."]
    if problems:
        raise ValidationFailed(problems)
    return batch["events"]


def _store_logs(run: Run, events: Iterable[dict[str, Any]], mask: Callable[[str], str]) -> None:
    lines = [
        RunLogLine(
            run=run, seq=event["seq"], at=event["at"], message=mask(event["message"]),
            stream=event.get("stream", "sdk"), level=event.get("level", ""), task_key=event.get("task_key", ""),
        )
        for event in events
    ]
    RunLogLine.objects.bulk_create(lines, ignore_conflicts=True)  # a retried batch's lines are already there


def _iso(value: datetime.datetime | None) -> str | None:
    """A time as the API writes it (UTC, `Z`), or None."""
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if value else None


def _keep_earlier_attempt(task: TaskRun) -> None:
    """Append the stored attempt to `task.attempts` before a higher one overwrites it.

    Keyed on the attempt number, so an attempt is kept once whatever is redelivered; only the last
    MAX_EARLIER_ATTEMPTS are kept. An attempt of which nothing was reported (still PENDING, never started) is not.
    """
    if task.started_at is None and task.state == TaskState.PENDING:
        return
    earlier = task.attempts if isinstance(task.attempts, list) else []
    if any(isinstance(entry, dict) and entry.get("attempt") == task.attempt for entry in earlier):
        return
    entry = {"attempt": task.attempt, "state": str(task.state), "started_at": _iso(task.started_at),
             "ended_at": _iso(task.ended_at)}
    task.attempts = [*earlier, entry][-MAX_EARLIER_ATTEMPTS:]


def _store_tasks(run: Run, events: list[dict[str, Any]], mask: Callable[[str], str]) -> None:
    existing = {task.task_key: task for task in TaskRun.objects.filter(run=run, task_key__in={e["task_key"] for e in events})}
    created: dict[str, TaskRun] = {}
    for event in events:
        key = event["task_key"]
        attempt = max(event.get("attempt", 1), 1)
        task = existing.get(key) or created.get(key)
        if task is None:
            task = created[key] = TaskRun(run=run, task_key=key, name=event["name"], attempt=attempt)
        if attempt < task.attempt:
            continue  # an earlier attempt's event, replayed or late: that attempt is over
        if TaskState(task.state).is_terminal and attempt == task.attempt and task.pk is not None:
            continue  # a replayed event must not move a finished task back
        if task.state == TaskState.RETRYING and attempt == task.attempt and event["state"] in _BEFORE_RETRYING:
            continue  # nor an attempt that ended back to running: the next attempt comes with a higher number
        if attempt > task.attempt:  # a retry: keep the attempt that ended, then start the new one afresh
            _keep_earlier_attempt(task)
            task.started_at, task.ended_at, task.error = None, None, ""
        task.state, task.attempt = event["state"], attempt
        task.map_index = event.get("map_index", task.map_index)
        task.tags = event.get("tags", task.tags)
        if "upstream" in event:  # sent with a task run's first event; later ones without it keep it
            task.upstream_keys = sorted(set(event["upstream"]))[:MAX_UPSTREAM_KEYS]
        if event["state"] == TaskState.RUNNING and task.started_at is None:
            task.started_at = event["at"]
        if event["state"] == TaskState.RETRYING:  # the attempt ended; the next one will start after the delay
            task.ended_at = event["at"]
        if TaskState(event["state"]).is_terminal:
            task.ended_at, task.error = event["at"], mask(event.get("error", ""))
    # One upsert writes the new task runs and the known ones (found by run and task_key; the run is locked, so
    # nothing else writes its tasks meanwhile): one row of values per task, where bulk_update built a CASE WHEN per
    # row and field, about a second of CPU for 500 tasks (tests/benchmarks/test_ingestion.py).
    TaskRun.objects.bulk_create(
        [*created.values(), *existing.values()], update_conflicts=True, unique_fields=["run", "task_key"],
        update_fields=["state", "attempt", "attempts", "map_index", "tags", "upstream_keys", "started_at", "ended_at",
                       "error"],
    )


def _apply_run_event(run: Run, event: dict[str, Any]) -> None:
    target = _REPORTED[event["state"]]
    if run.state == target:
        return  # a repeated report changes nothing
    reason = None
    if target == RunState.FAILED:
        reason = RunReason(event["reason"]) if event.get("reason") in RunReason._value2member_map_ else RunReason.USER_ERROR
    elif target == RunState.CANCELLED:
        if run.state != RunState.CANCELLING:  # stopped by something other than Flowyard: not a cancellation
            target, reason = RunState.CRASHED, RunReason.WORKER_LOST
            event = {**event, "message": event.get("message") or "The runner was stopped outside Flowyard (SIGTERM)."}
        else:
            reason = RunReason.CANCELLED
    try:
        lifecycle.transition(run, target, reason=reason, message=event.get("message", ""))
    except TransitionRefused:
        return  # e.g. a late SUCCEEDED after a cancel request: cancel wins, the report is ignored
    # Start and end as the runner saw them: a batch often carries both, and its arrival time would make every
    # short run last 0 s. Clamped to [created, now] so a container's wrong clock cannot say nonsense.
    at = min(max(event["at"], run.created_at), timezone.now())
    if target == RunState.RUNNING:
        run.started_at = at
    elif target.is_terminal:
        run.ended_at = max(at, run.started_at or at)


def runner_events_apply(*, run_id: Any, payload: Any) -> EventBatchReply:
    """Apply one batch from the runner atomically and answer what the runner needs to know."""
    events = _parse_batch(payload)
    with transaction.atomic():
        # Lock the run's row only ("self"): with the joined rows locked too, every batch of every run of an
        # environment would wait for the one before it.
        run = Run.objects.select_for_update(of=("self",)).select_related("deployment__environment").get(pk=run_id)
        mask = masker_for(run)
        _store_logs(run, (event for event in events if event["type"] == "log"), mask)
        _store_tasks(run, [event for event in events if event["type"] == "task"], mask)
        for event in events:
            if event["type"] == "run" and not run.is_terminal:
                _apply_run_event(run, {**event, "message": mask(event.get("message", ""))})
        run.heartbeat_at = timezone.now()
        run.save()
    last_seq = RunLogLine.objects.filter(run=run).aggregate(last=Max("seq"))["last"] or 0
    return {"run_state": run.state, "cancel_requested": run.state == RunState.CANCELLING, "last_log_seq": last_seq}
