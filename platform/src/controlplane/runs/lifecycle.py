"""The run state machine: every allowed transition is a named rule; terminal states never change."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from controlplane.core.signals import send_robust_now
from controlplane.runs.errors import TransitionRefused
from controlplane.runs.models import Run
from controlplane.runs.signals import ENDED_RUN_RELATED, run_ended
from flowyard_spec.states import RunReason, RunState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """One allowed transition; `why` names the race or mistake the rule exists to prevent."""

    name: str
    sources: frozenset[RunState]
    target: RunState
    why: str


SCHEDULED, QUEUED, STARTING, RUNNING, CANCELLING = (
    RunState.SCHEDULED, RunState.QUEUED, RunState.STARTING, RunState.RUNNING, RunState.CANCELLING
)

RULES: tuple[Rule, ...] = (
    Rule("enqueue", frozenset({SCHEDULED}), QUEUED, "a scheduled run is queued once, when its tick is due"),
    Rule("start", frozenset({QUEUED}), STARTING, "a redelivered launch message finds STARTING and launches nothing"),
    Rule("report_running", frozenset({QUEUED, STARTING}), RUNNING,
         "the runner may report before the launcher records STARTING; both orders end in RUNNING"),
    Rule("request_cancel", frozenset({STARTING, RUNNING}), CANCELLING,
         "a launched container must be stopped before the run can be called cancelled"),
    Rule("cancel_unlaunched", frozenset({SCHEDULED, QUEUED}), RunState.CANCELLED,
         "nothing was launched, so there is nothing to stop"),
    Rule("confirm_cancel", frozenset({CANCELLING}), RunState.CANCELLED, "the runtime confirmed the container stopped"),
    Rule("succeed", frozenset({STARTING, RUNNING}), RunState.SUCCEEDED,
         "a late success after a cancel request is refused: CANCELLING is not a source"),
    Rule("fail", frozenset({QUEUED, STARTING, RUNNING, CANCELLING}), RunState.FAILED,
         "user errors, OOM and image errors end a run from any live state"),
    Rule("time_out", frozenset({STARTING, RUNNING, CANCELLING}), RunState.TIMED_OUT,
         "the config's timeout expired; the container is killed"),
    Rule("crash", frozenset({SCHEDULED, QUEUED, STARTING, RUNNING, CANCELLING}), RunState.CRASHED,
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
    if target == RunState.RUNNING and run.started_at is None:
        run.started_at = now
    if target.is_terminal:
        run.ended_at = now
        # After the terminal state commits, tell the listeners of `run_ended` (retries, downstream runs, alerts, ...).
        run_id = run.pk
        transaction.on_commit(lambda: run_end_announce(run_id))
    return rule


def ended_run(run_id: object) -> Run | None:
    """The run as stored with what `run_ended`'s receivers read loaded (`ENDED_RUN_RELATED`): one query; None when
    there is no such run. Receivers given only `run_id` read it here too."""
    try:
        return Run.objects.select_related(*ENDED_RUN_RELATED).get(pk=run_id)
    except Run.DoesNotExist:
        return None


def run_end_announce(run_id: object) -> None:
    """Send `run_ended` for a run whose end has committed, with the run as stored (`ended_run`); a receiver that
    raises is logged and never stops the others."""
    send_robust_now(run_ended, Run, run_id=run_id, run=ended_run(run_id))
