"""Where a pipeline's build goes: every cell of the release rules × pipeline event × flowyard.json `ci` table.
The decision reads no database, so the rules here are unsaved."""

from __future__ import annotations

import pytest

from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import ReleaseRules
from controlplane.deployments.release import release_decision
from flowyard_spec.pipelines import PipelineEvent

BRANCH, MR, DEFAULT, OTHER = (PipelineEvent.BRANCH_PUSH, PipelineEvent.MERGE_REQUEST, PipelineEvent.DEFAULT_BRANCH,
                              PipelineEvent.OTHER)


def decide(event, *, branch="feature/x", merge_request=None, ci=None, **rules):
    config = {"name": "etl"} | ({"ci": ci} if ci is not None else {})
    return release_decision(rules=ReleaseRules(**rules), config=config, event=event, branch=branch,
                            merge_request=merge_request)


def where(decision):
    return decision.target_name, decision.request_promotion


@pytest.mark.parametrize(("event", "extra", "expected"), [
    (BRANCH, {}, ("test", False)),
    (MR, {"merge_request": 12}, ("mr-12", False)),
    (DEFAULT, {"branch": "main"}, ("test", True)),
    (OTHER, {"branch": "v1.0"}, (None, False)),
])
def test_the_default_rules_send_each_pipeline_where_the_issue_says(event, extra, expected):
    assert where(decide(event, **extra)) == expected


@pytest.mark.parametrize("event", [BRANCH, DEFAULT])
def test_a_build_without_a_branch_is_registered_only(event):
    decision = decide(event, branch="")
    assert not decision.deploys and not decision.request_promotion
    assert "without a git branch" in decision.why


def test_branch_patterns_choose_which_branches_deploy():
    rules = {"branch_patterns": ["feature/*", "release-?"]}
    assert where(decide(BRANCH, branch="feature/a", **rules)) == ("test", False)
    assert where(decide(BRANCH, branch="release-1", **rules)) == ("test", False)
    skipped = decide(BRANCH, branch="experiment", **rules)
    assert not skipped.deploys and "feature/*, release-?" in skipped.why


def test_the_project_can_turn_branch_deployments_off_and_then_nothing_is_promoted_either():
    for event, extra in ((BRANCH, {}), (DEFAULT, {"branch": "main"})):
        decision = decide(event, branch_environment="", **extra)
        assert where(decision) == (None, False) and "deploy no branch build" in decision.why


def test_the_project_can_turn_previews_off():
    decision = decide(MR, merge_request=3, merge_request_previews=False)
    assert where(decision) == (None, False) and "previews off" in decision.why


def test_the_project_can_stop_default_branch_builds_from_asking_for_production():
    decision = decide(DEFAULT, branch="main", default_branch_promotion=False)
    assert where(decision) == ("test", False) and "request no promotion" in decision.why


def test_flowyard_json_narrows_each_rule():
    assert where(decide(BRANCH, branch="wip/x", ci={"deploy-branches": ["feature/*"]})) == (None, False)
    assert where(decide(BRANCH, branch="feature/x", ci={"deploy-branches": ["feature/*"]})) == ("test", False)
    assert where(decide(BRANCH, ci={"deploy-branches": []})) == (None, False)
    assert where(decide(MR, merge_request=4, ci={"previews": False})) == (None, False)
    narrowed = decide(DEFAULT, branch="main", ci={"request-promotion": False})
    assert where(narrowed) == ("test", False) and "ci.request-promotion" in narrowed.why


def test_flowyard_json_never_widens_the_rules():
    widened = {"deploy-branches": ["*"], "previews": True, "request-promotion": True}
    assert not decide(BRANCH, branch="experiment", branch_patterns=["feature/*"], ci=widened).deploys
    assert not decide(MR, merge_request=5, merge_request_previews=False, ci=widened).deploys
    assert not decide(DEFAULT, branch="main", default_branch_promotion=False, ci=widened).request_promotion


def test_a_merge_request_pipeline_must_say_which_merge_request():
    with pytest.raises(ValidationFailed) as refusal:
        decide(MR)
    assert "merge_request_iid" in refusal.value.extra["fields"]
