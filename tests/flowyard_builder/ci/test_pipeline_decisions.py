"""`flowyard ci` reads the pipeline from the CI's own variables and decides the same for GitLab and GitHub:
branch pushes go to test, merge requests to mr-<number>, the default branch asks for production, forks and
anything else ship nothing."""

from __future__ import annotations

import json

import pytest

from flowyard_builder.ci.context import CiError, Event, Forge, MissingCiVariable, NoCiDetected, detect
from flowyard_builder.ci.plan import Step, decide, teardown

SHA = "3f1c2a9d8e7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
HEAD_SHA = "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00"
SHIP_TO = (Step.VALIDATE, Step.BUILD, Step.PUSH, Step.REGISTER, Step.DEPLOY)


def gitlab(**extra: str) -> dict[str, str]:
    """Variables as GitLab sets them on a branch pipeline of group/etl (registry enabled)."""
    return {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "feature/greet",
            "CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push", "CI_PROJECT_ID": "42",
            "CI_PROJECT_PATH": "group/etl", "GITLAB_USER_LOGIN": "ada",
            "CI_PIPELINE_URL": "https://gitlab.example.com/group/etl/-/pipelines/7",
            "CI_REGISTRY_IMAGE": "registry.example.com/group/etl", **extra}


def gitlab_merge_request(iid: str = "12", source_project: str = "42", **extra: str) -> dict[str, str]:
    """A merge-request pipeline (`rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"`)."""
    return gitlab(CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID=iid,
                  CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature/greet", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                  CI_MERGE_REQUEST_PROJECT_ID="42", CI_MERGE_REQUEST_SOURCE_PROJECT_ID=source_project,
                  CI_MERGE_REQUEST_PROJECT_URL="https://gitlab.example.com/group/etl", **extra)


@pytest.fixture
def github(tmp_path):
    """`github(event_name, payload, **variables)`: variables as GitHub Actions sets them, the payload in a file."""

    def make(event_name: str, payload: dict, **extra: str) -> dict[str, str]:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": event_name,
                "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": "Org/etl", "GITHUB_SHA": SHA,
                "GITHUB_REF_NAME": "feature/greet", "GITHUB_REF_TYPE": "branch", "GITHUB_ACTOR": "grace",
                "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "99", **extra}

    return make


REPOSITORY = {"full_name": "Org/etl", "default_branch": "main"}


def pull_request(number: int = 12, head_repo: str = "Org/etl") -> dict:
    """A pull_request event payload, shaped as GitHub sends it (the fields Flowyard reads)."""
    return {"action": "synchronize", "number": number, "repository": REPOSITORY,
            "pull_request": {"number": number, "html_url": f"https://github.com/Org/etl/pull/{number}",
                             "user": {"login": "edsger"},
                             "head": {"sha": HEAD_SHA, "ref": "feature/greet", "repo": {"full_name": head_repo}},
                             "base": {"ref": "main", "repo": {"full_name": "Org/etl"}}}}


# -- the decision table: every forge × event × branch cell ------------------------------------------------------


def test_a_gitlab_push_to_a_feature_branch_ships_to_test():
    plan = decide(detect(gitlab()))
    assert (plan.context.forge, plan.context.event) == (Forge.GITLAB, Event.BRANCH_PUSH)
    assert plan.steps == SHIP_TO and plan.environment == "test" and plan.promotion is None
    assert plan.context.image_tag == "registry.example.com/group/etl:3f1c2a9d"


def test_a_github_push_to_a_feature_branch_ships_to_test(github):
    plan = decide(detect(github("push", {"ref": "refs/heads/feature/greet", "repository": REPOSITORY})))
    assert (plan.context.forge, plan.context.event) == (Forge.GITHUB, Event.BRANCH_PUSH)
    assert plan.steps == SHIP_TO and plan.environment == "test"
    assert plan.context.image_tag == "ghcr.io/org/etl:3f1c2a9d", "GitHub's registry, lower case as it requires"
    assert plan.context.pipeline_url == "https://github.com/Org/etl/actions/runs/99"


def test_a_gitlab_merge_request_ships_to_its_preview_environment():
    plan = decide(detect(gitlab_merge_request()), smoke=True)
    assert plan.context.event is Event.MERGE_REQUEST
    assert plan.steps == (*SHIP_TO, Step.SMOKE) and plan.environment == "mr-12"
    assert plan.context.merge_request_url == "https://gitlab.example.com/group/etl/-/merge_requests/12"
    assert plan.context.branch == "feature/greet" and not plan.context.from_fork


def test_a_github_pull_request_ships_its_head_commit_to_its_preview_environment(github):
    plan = decide(detect(github("pull_request", pull_request(), GITHUB_REF_NAME="12/merge")), smoke=True)
    assert plan.steps == (*SHIP_TO, Step.SMOKE) and plan.environment == "mr-12"
    context = plan.context
    assert context.commit_sha == HEAD_SHA, "the head commit, not GitHub's merge commit GITHUB_SHA"
    assert (context.branch, context.author) == ("feature/greet", "edsger")
    assert context.merge_request_url == "https://github.com/Org/etl/pull/12"


@pytest.mark.parametrize("forge", ["gitlab", "github"])
def test_a_merge_request_from_a_fork_is_built_but_nothing_leaves_the_job(forge, github):
    environ = (gitlab_merge_request(source_project="977") if forge == "gitlab"
               else github("pull_request", pull_request(head_repo="stranger/etl")))
    plan = decide(detect(environ), smoke=True)
    assert plan.context.from_fork
    assert plan.steps == (Step.VALIDATE, Step.BUILD) and plan.environment is None
    assert "fork" in plan.why


@pytest.mark.parametrize("forge", ["gitlab", "github"])
def test_the_default_branch_registers_and_asks_for_production_and_never_deploys_there(forge, github):
    environ = (gitlab(CI_COMMIT_REF_NAME="main") if forge == "gitlab"
               else github("push", {"ref": "refs/heads/main", "repository": REPOSITORY}, GITHUB_REF_NAME="main"))
    plan = decide(detect(environ), smoke=True)
    assert plan.context.event is Event.DEFAULT_BRANCH
    assert plan.steps == (*SHIP_TO, Step.REQUEST_PROMOTION), "no smoke"
    assert plan.promotion == ("test", "production") and plan.environment == "test", "production only by promotion"


def test_the_default_branch_is_the_one_the_forge_names_not_always_main(github):
    assert detect(gitlab(CI_DEFAULT_BRANCH="trunk", CI_COMMIT_REF_NAME="main")).event is Event.BRANCH_PUSH
    payload = {"ref": "refs/heads/trunk", "repository": {**REPOSITORY, "default_branch": "trunk"}}
    assert detect(github("push", payload, GITHUB_REF_NAME="trunk")).event is Event.DEFAULT_BRANCH


@pytest.mark.parametrize("environ", [
    gitlab(CI_COMMIT_TAG="v1.0", CI_COMMIT_REF_NAME="v1.0"),
    gitlab(CI_PIPELINE_SOURCE="schedule"),
], ids=["gitlab tag", "gitlab schedule"])
def test_tags_and_scheduled_gitlab_pipelines_only_validate(environ):
    plan = decide(detect(environ), smoke=True)
    assert plan.steps == (Step.VALIDATE,) and plan.environment is None


@pytest.mark.parametrize("event_name, extra", [("push", {"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v1.0"}),
                                               ("workflow_dispatch", {}), ("schedule", {})])
def test_tags_manual_and_scheduled_github_runs_only_validate(github, event_name, extra):
    plan = decide(detect(github(event_name, {"repository": REPOSITORY}, **extra)))
    assert plan.steps == (Step.VALIDATE,)


def test_without_smoke_nothing_is_followed():
    assert Step.SMOKE not in decide(detect(gitlab())).steps


# -- what is refused, and how it says so -------------------------------------------------------------------------


def test_outside_ci_it_says_no_ci_was_detected():
    with pytest.raises(NoCiDetected, match="no CI detected: neither GITLAB_CI nor GITHUB_ACTIONS"):
        detect({"PATH": "/usr/bin", "CI_COMMIT_SHA": SHA})


def test_a_missing_variable_the_ci_always_sets_is_named():
    environ = gitlab()
    del environ["CI_COMMIT_SHA"]
    with pytest.raises(MissingCiVariable, match="CI_COMMIT_SHA is not set"):
        detect(environ)


def test_without_a_registry_image_it_names_the_variable_to_set():
    environ = gitlab()
    del environ["CI_REGISTRY_IMAGE"]
    with pytest.raises(MissingCiVariable, match="FLOWYARD_REGISTRY_IMAGE is not set"):
        detect(environ)
    assert detect({**environ, "FLOWYARD_REGISTRY_IMAGE": "127.0.0.1:5000/etl"}).image_tag == "127.0.0.1:5000/etl:3f1c2a9d"


def test_an_unreadable_github_event_file_is_named(github, tmp_path):
    environ = github("pull_request", pull_request())
    (tmp_path / "event.json").write_text("{not json")
    with pytest.raises(CiError, match="GITHUB_EVENT_PATH .*event.json: cannot read the event payload"):
        detect(environ)


def test_a_pull_request_payload_without_its_head_is_refused(github):
    with pytest.raises(CiError, match="no number, head.sha or head.ref"):
        detect(github("pull_request", {"number": 3, "pull_request": {}, "repository": REPOSITORY}))


def test_the_plan_reads_as_steps_in_the_job_log():
    lines = decide(detect(gitlab_merge_request()), smoke=True).describe()
    assert lines[0] == "gitlab pipeline: merge request !12 from feature/greet at 3f1c2a9d by ada"
    assert lines[-2:] == ["  5. deploy it to mr-12", "  6. smoke run in mr-12, followed to its end"]


def test_a_closed_github_pull_request_tears_its_preview_down(github):
    payload = pull_request() | {"action": "closed"}
    plan = decide(detect(github("pull_request", payload, GITHUB_REF_NAME="12/merge")), smoke=True)
    assert plan.steps == (Step.TEARDOWN,) and plan.environment == "mr-12"
    assert "closed or merged" in plan.why


def test_the_gitlab_stop_job_tears_the_preview_down():
    plan = teardown(detect(gitlab_merge_request(iid="31")))
    assert plan.steps == (Step.TEARDOWN,) and plan.environment == "mr-31"


@pytest.mark.parametrize("forge", ["gitlab", "github"])
def test_teardown_outside_a_merge_request_pipeline_says_why(forge, github):
    environ = gitlab() if forge == "gitlab" else github("push", {"ref": "refs/heads/x", "repository": REPOSITORY})
    with pytest.raises(CiError, match="runs in a merge-request pipeline"):
        teardown(detect(environ))


def test_a_forks_merge_request_has_no_preview_to_tear_down():
    plan = teardown(detect(gitlab_merge_request(source_project="977")))
    assert plan.steps == () and "fork" in plan.why


def test_a_teardown_needs_no_registry_image():
    environ = gitlab_merge_request()
    del environ["CI_REGISTRY_IMAGE"]
    assert teardown(detect(environ, needs_image=False)).steps == (Step.TEARDOWN,)
