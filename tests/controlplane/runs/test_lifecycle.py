"""The run state machine: named rules, terminal states that never change, timestamps set on the way."""

from __future__ import annotations

import pytest
from django.utils import timezone

from controlplane.runs import lifecycle
from controlplane.runs.errors import TransitionRefused
from controlplane.runs.models import Run
from flowyard_spec.states import ACTIVE_RUN_STATES, TERMINAL_RUN_STATES, RunReason, RunState

TERMINAL = sorted(TERMINAL_RUN_STATES)
ACTIVE = sorted(ACTIVE_RUN_STATES)


def run_in(state: RunState) -> Run:
    """An unsaved run in `state` (transition() changes the object; the caller saves it)."""
    return Run(state=state.value)


@pytest.mark.parametrize("current", TERMINAL)
def test_a_terminal_state_refuses_every_transition(current):
    for target in RunState:
        run = run_in(current)
        with pytest.raises(TransitionRefused) as refused:
            lifecycle.transition(run, target, reason=RunReason.CANCELLED)
        assert refused.value.code == "transition_refused" and refused.value.http_status == 409
        assert "terminal" in refused.value.message
        assert refused.value.extra == {"state": current.value, "requested": target.value}
        assert run.state == current.value and run.ended_at is None and run.reason == "", "a refusal changes nothing"


def test_no_rule_starts_from_a_terminal_state():
    for rule in lifecycle.RULES:
        assert not rule.sources & TERMINAL_RUN_STATES, rule.name


def test_a_late_success_after_a_cancel_request_is_refused():
    run = run_in(RunState.CANCELLING)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.transition(run, RunState.SUCCEEDED)
    assert "CANCELLING" in refused.value.message and "SUCCEEDED" in refused.value.message
    assert run.state == "CANCELLING"
    assert lifecycle.rule_for(RunState.CANCELLING, RunState.CANCELLED).name == "confirm_cancel"


def test_every_rule_says_why_it_exists():
    names = [rule.name for rule in lifecycle.RULES]
    assert len(names) == len(set(names)), "rule names are unique"
    for rule in lifecycle.RULES:
        assert rule.why.strip(), f"rule {rule.name} does not say why it exists"
        assert rule.sources, f"rule {rule.name} has no source state"


def test_every_active_state_can_end_and_a_refused_edge_is_named():
    for state in ACTIVE:
        assert any(rule.target.is_terminal for rule in lifecycle.RULES if state in rule.sources), state
    with pytest.raises(TransitionRefused, match="cannot go from RUNNING to QUEUED"):
        lifecycle.rule_for(RunState.RUNNING, RunState.QUEUED)


@pytest.mark.parametrize(
    "source,target", sorted(lifecycle.RULES_BY_EDGE), ids=lambda state: state.value
)
def test_each_allowed_transition_sets_the_state_and_its_timestamps(source, target):
    run = run_in(source)
    before = timezone.now()
    rule = lifecycle.transition(run, target, reason=RunReason.USER_ERROR, message="explained")
    assert rule is lifecycle.RULES_BY_EDGE[(source, target)]
    assert run.state == target.value and run.reason == "user_error" and run.message == "explained"
    assert run.state_changed_at >= before
    if target.is_terminal:
        assert run.ended_at is not None and run.ended_at >= before
    else:
        assert run.ended_at is None
    if target == RunState.RUNNING:
        assert run.started_at is not None and run.started_at >= before
    else:
        assert run.started_at is None

