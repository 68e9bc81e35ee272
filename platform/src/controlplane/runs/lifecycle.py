"""The run state machine: every allowed transition is a named rule; terminal states never change."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from controlplane.runs.errors import TransitionRefused
from controlplane.runs.models import Run
from flowyard_spec.states import RunReason, RunState

S = RunState
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """One allowed transition; `why` names the race or mistake the rule exists to prevent."""

    name: str
    sources: frozenset[RunState]
    target: RunState
    why: str


RULES: tuple[Rule, ...] = (
    Rule("enqueue", frozenset({S.SCHEDULED}), S.QUEUED, "a scheduled run is queued once, when its tick is due"),
    Rule("start", frozenset({S.QUEUED}), S.STARTING, "a redelivered launch message finds STARTING and launches nothing"),
    Rule("report_running", frozenset({S.QUEUED, S.STARTING}), S.RUNNING,
         "the runner may report before the launcher records STARTING; both orders end in RUNNING"),
    Rule("request_cancel", frozenset({S.STARTING, S.RUNNING}), S.CANCELLING,
         "a launched container must be stopped before the run can be called cancelled"),
    Rule("cancel_unlaunched", frozenset({S.SCHEDULED, S.QUEUED}), S.CANCELLED,
         "nothing was launched, so there is nothing to stop"),
    Rule("confirm_cancel", frozenset({S.CANCELLING}), S.CANCELLED, "the runtime confirmed the container stopped"),
    Rule("succeed", frozenset({S.STARTING, S.RUNNING}), S.SUCCEEDED,
         "a late success after a cancel request is refused: CANCELLING is not a source"),
    Rule("fail", frozenset({S.QUEUED, S.STARTING, S.RUNNING, S.CANCELLING}), S.FAILED,
         "user errors, OOM and image errors end a run from any live state"),
    Rule("time_out", frozenset({S.STARTING, S.RUNNING, S.CANCELLING}), S.TIMED_OUT,
         "the config's timeout expired; the container is killed"),
    Rule("crash", frozenset({S.SCHEDULED, S.QUEUED, S.STARTING, S.RUNNING, S.CANCELLING}), S.CRASHED,
         "the reconciler ends runs whose runner or worker died, so none stays live forever"),
)

RULES_BY_EDGE: dict[tuple[RunState, RunState], Rule] = {
    (source, rule.target): rule for rule in RULES for source in rule.sources
}


def rule_for(current: RunState, target: RunState) -> Rule:
    """The rule allowing `current` → `target`, or TransitionRefused naming why not."""
    if current.is_terminal:
        raise TransitionRefused(
            f"The run already ended as {current}; terminal states never change.",
            extra={"state": current.value, "requested": target.value},
        )
    rule = RULES_BY_EDGE.get((current, target))
    if rule is None:
        raise TransitionRefused(
            f"A run cannot go from {current} to {target}.", extra={"state": current.value, "requested": target.value}
        )
    return rule


def transition(run: Run, target: RunState, *, reason: RunReason | None = None, message: str = "") -> Rule:
    """Apply `target` to a run the caller has locked (select_for_update); the caller saves it."""
    rule = rule_for(RunState(run.state), target)
    now = timezone.now()
    run.state = target.value
    run.state_changed_at = now
    run.reason = reason.value if reason else ""
    if message:
        run.message = message
    if target == S.RUNNING and run.started_at is None:
        run.started_at = now
    if target.is_terminal:
        run.ended_at = now
        run_id = run.pk
        transaction.on_commit(lambda: _after_end(run_id))
    return rule


def _after_end(run_id: object) -> None:
    """After a terminal state commits: queue a retry if one is due, then tell the listeners of `run_ended`."""
    from controlplane.runs.retries import retry_if_due
    from controlplane.runs.signals import run_ended

    try:
        retry_if_due(run_id)
    finally:
        for receiver, result in run_ended.send_robust(sender=Run, run_id=run_id):
            if isinstance(result, Exception):
                logger.error("run %s: %s failed after the run ended", run_id, getattr(receiver, "__qualname__", receiver),
                             exc_info=result)
