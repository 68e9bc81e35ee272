"""The GitLab template, run for real: a repository made from examples/hello includes
ci_templates/gitlab/flowyard.gitlab-ci.yml, and gitlab-ci-local (shell executor, installed by scripts/provision)
runs its pipeline against a live control plane with a worker, the Docker engine and the registry on
127.0.0.1:5000. A feature-branch pipeline validates, builds, pushes, registers that commit, and its smoke run
in test ends SUCCEEDED; a pipeline whose workflow is invalid stops at validate with the field named. A
merge-request pipeline (GitLab's merge-request variables) ships that commit to the preview environment mr-<iid>,
whose smoke run ends SUCCEEDED, and its stop job flowyard:teardown tears the preview down, runs kept.
gitlab-ci-local ignores workflow: rules and does not check a stop job's wiring as GitLab does, so those are read
from the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowyard_testkit.docker_env import docker_client, git, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.pipelines import example_checkout, flowyard_settings, job_environment, own_image_repository
from flowyard_testkit.platform import running_platform

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "ci_templates" / "gitlab" / "flowyard.gitlab-ci.yml"
GITLAB_CI_LOCAL = Path(os.environ.get("FLOWYARD_GITLAB_CI_LOCAL", "/var/lib/flowyard/npm/node_modules/.bin/gitlab-ci-local"))
PIPELINE_SECONDS = 600


@pytest.fixture
def repository(tmp_path) -> tuple[Path, str]:
    """A team's repository: examples/hello and a .gitlab-ci.yml that includes the template; on feature/greet."""
    if not GITLAB_CI_LOCAL.exists():
        pytest.fail(f"{GITLAB_CI_LOCAL} is missing: run scripts/provision (it installs gitlab-ci-local)", pytrace=False)
    repo, _ = example_checkout(tmp_path, detached=False)
    (repo / "ci").mkdir()
    shutil.copy(TEMPLATE, repo / "ci" / "flowyard.gitlab-ci.yml")
    (repo / ".gitlab-ci.yml").write_text("include:\n  - local: ci/flowyard.gitlab-ci.yml\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Ship it with Flowyard's template")
    return repo, git(repo, "rev-parse", "HEAD")


def run_pipeline(repo: Path, variables: dict[str, str], *, unset: tuple[str, ...] = (),
                 jobs: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """gitlab-ci-local's pipeline in `repo`, with `variables` as the project's CI/CD variables and the predefined
    variables `unset` removed; with `jobs`, only those jobs (a manual one included), as when started by hand.

    gitlab-ci-local sets GITLAB_CI=false to tell itself apart; the pipeline gets "true", as on GitLab."""
    environ = job_environment(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    arguments = [f"--variable={name}={value}" for name, value in {"GITLAB_CI": "true", **variables}.items()]
    arguments += [f"--unset-variable={name}" for name in unset]
    return subprocess.run([str(GITLAB_CI_LOCAL), "--no-color", *arguments, *jobs], cwd=repo, env=environ,
                          capture_output=True, text=True, timeout=PIPELINE_SECONDS)


MERGE_REQUEST_IID = 3  # build_tenant's project already has a live preview mr-7


def merge_request_pipeline(iid: int = MERGE_REQUEST_IID) -> dict[str, str]:
    """What GitLab sets (beyond what gitlab-ci-local derives from the checkout) in a merge-request pipeline of
    merge request `iid` from feature/greet into main, opened by ada. GitLab leaves CI_COMMIT_BRANCH unset there."""
    project_url = "https://gitlab.example.com/analytics/hello"
    return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(iid),
            "CI_MERGE_REQUEST_ID": str(1000 + iid), "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/greet", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_PROJECT_ID": "42", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "42",
            "CI_MERGE_REQUEST_PROJECT_PATH": "analytics/hello", "CI_MERGE_REQUEST_PROJECT_URL": project_url,
            "CI_MERGE_REQUEST_REF_PATH": f"refs/merge-requests/{iid}/head", "CI_MERGE_REQUEST_TITLE": "Say hello",
            "CI_OPEN_MERGE_REQUESTS": f"analytics/hello!{iid}", "CI_PROJECT_ID": "42",
            "CI_PIPELINE_URL": f"{project_url}/-/pipelines/8", "GITLAB_USER_LOGIN": "ada"}


NOT_IN_MERGE_REQUEST_PIPELINES = ("CI_COMMIT_BRANCH",)


def test_a_feature_branch_pipeline_ships_that_commit_and_its_smoke_run_succeeds(
    repository, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client, tmp_path  # noqa: F811
):
    from controlplane.runs.models import Run
    from controlplane.workflows.models import WorkflowVersion

    repo, sha = repository
    image = own_image_repository(registry, "gitlab-hello")
    image_cleanup.append(f"{image}:{sha[:8]}")
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        result = run_pipeline(repo, flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image,
                                                     FLOWYARD_SMOKE="1"))
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        for job in ("flowyard:validate", "flowyard:build", "flowyard:register", "flowyard:smoke"):
            assert f"PASS  {job}" in output, f"{job} did not pass:\n{output[-6000:]}"
        version = WorkflowVersion.objects.get(workflow__project=tenant.project, workflow__name="hello")
        assert (version.git_commit_sha, version.git_branch) == (sha, "feature/greet")
        assert version.image_ref == f"{image}:{sha[:8]}"
        run = Run.objects.get(deployment__workflow__name="hello", deployment__environment__name="test",
                              trigger="api")  # the example also runs every minute in test on its schedule
        assert run.state == "SUCCEEDED" and run.version == version
        assert "Hello Ada" in output, "the smoke run's log is in the job's log"
        assert tenant.ci_token_value not in output, "the token is never echoed"


def test_an_invalid_workflow_stops_the_pipeline_at_validate_naming_the_field(repository, live_server):
    from controlplane.workflows.models import WorkflowVersion

    repo, _ = repository
    config = json.loads((repo / "flowyard.json").read_text())
    (repo / "flowyard.json").write_text(json.dumps({**config, "memory": "lots"}))
    git(repo, "commit", "-q", "-am", "Break the config")
    result = run_pipeline(repo, {"FLOWYARD_API_URL": live_server.url, "FLOWYARD_CI_TOKEN": "fyc_unused",
                                 "FLOWYARD_PROJECT": "nowhere", "FLOWYARD_REGISTRY_IMAGE": "127.0.0.1:5000/x"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "FAIL  flowyard:validate" in output and "memory" in output, output[-4000:]
    assert "flowyard:build starting" not in output, "nothing is built after a failed validate"
    assert not WorkflowVersion.objects.filter(workflow__name="hello").exists()


def test_a_default_branch_pipeline_leaves_a_pending_promotion_of_exactly_that_digest(
    repository, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    from controlplane.deployments.models import Promotion
    from flowyard_builder.images.results import LAST_PUSH, load_result
    from flowyard_testkit.tenants import build_tenant

    repo, sha = repository
    git(repo, "branch", "-m", "main")  # the merge landed: gitlab-ci-local's default branch is main
    tenant = build_tenant("gl")
    image = own_image_repository(registry, "gitlab-hello")
    image_cleanup.append(f"{image}:{sha[:8]}")
    result = run_pipeline(repo, flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image,
                                                     FLOWYARD_SMOKE="1"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for job in ("flowyard:validate", "flowyard:build", "flowyard:register"):
        assert f"PASS  {job}" in output, f"{job} did not pass:\n{output[-6000:]}"
    assert "flowyard:smoke starting" not in output, "no smoke run on the default branch"
    promotion = Promotion.objects.get(workflow__project=tenant.project, workflow__name="hello")
    assert promotion.state == "PENDING" and promotion.target_environment.name == "production"
    assert promotion.version.image_digest == load_result(repo, LAST_PUSH)["image_digest"]
    assert promotion.version.git_commit_sha == sha


def test_a_merge_request_pipeline_ships_to_its_preview_and_its_stop_job_tears_it_down(
    repository, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client, tmp_path  # noqa: F811
):
    from controlplane.deployments.models import Environment
    from controlplane.runs.models import Run

    repo, sha = repository
    iid = MERGE_REQUEST_IID
    image = own_image_repository(registry, "gitlab-mr")
    image_cleanup.append(f"{image}:{sha[:8]}")
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        variables = {**flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image,
                                         FLOWYARD_SMOKE="1"), **merge_request_pipeline(iid)}
        result = run_pipeline(repo, variables, unset=NOT_IN_MERGE_REQUEST_PIPELINES)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        for job in ("flowyard:validate", "flowyard:build", "flowyard:register:preview", "flowyard:smoke"):
            assert f"PASS  {job}" in output, f"{job} did not pass:\n{output[-6000:]}"
        assert "flowyard:register starting" not in output, "the branch pipelines' register job stays out"
        assert "flowyard:teardown starting" not in output, "the stop job is manual: GitLab starts it on close"
        assert f"environment: {{ name: flowyard/mr-{iid}" in output, "the register job declares the GitLab environment"
        assert f"deployed to mr-{iid}" in output
        preview = Environment.objects.get(project=tenant.project, name=f"mr-{iid}")
        assert (preview.kind, preview.merge_request_iid, preview.base_environment.name) == ("preview", iid, "test")
        assert preview.merge_request_url == f"https://gitlab.example.com/analytics/hello/-/merge_requests/{iid}"
        assert (preview.source_branch, preview.author, preview.torn_down_at) == ("feature/greet", "ada", None)
        deployment = preview.deployments.get(workflow__name="hello")
        version = deployment.version
        assert (version.git_commit_sha, version.git_branch, version.merge_request_iid) == (sha, "feature/greet", iid)
        assert version.image_ref == f"{image}:{sha[:8]}"
        assert not tenant.test_env.deployments.filter(workflow__name="hello").exists(), \
            "a merge request's build stays in its preview"
        smoke = Run.objects.get(deployment=deployment)  # previews never fire schedules: the smoke run is the only one
        assert smoke.state == "SUCCEEDED" and smoke.version == version and smoke.trigger == "api"
        assert "Hello Ada" in output, "the smoke run's log is in the job's log"

        # GitLab runs the stop job when the merge request is merged or closed: here, started by name
        stopped = run_pipeline(repo, variables, unset=NOT_IN_MERGE_REQUEST_PIPELINES, jobs=("flowyard:teardown",))
        stop_output = stopped.stdout + stopped.stderr
        assert stopped.returncode == 0, stop_output[-6000:]
        assert "PASS  flowyard:teardown" in stop_output, stop_output[-6000:]
        assert f"preview environment mr-{iid} torn down" in stop_output
        preview.refresh_from_db()
        deployment.refresh_from_db()
        assert preview.torn_down_at is not None and deployment.version is None
        smoke.refresh_from_db()
        assert smoke.state == "SUCCEEDED" and smoke.version == version, "the preview's runs stay, as history"
        for text in (output, stop_output):
            assert tenant.ci_token_value not in text, "the token is never echoed"


def test_the_stop_job_is_wired_as_gitlab_requires_and_an_open_merge_request_skips_the_branch_pipeline():
    """What GitLab checks when it creates a pipeline (and gitlab-ci-local does not): the deploy job's on_stop names
    a job whose environment has the same (unexpanded) name and action stop, in a later stage, under the same
    condition; and workflow: rules keep one pipeline per push to a merge request's branch."""
    template = yaml.safe_load(TEMPLATE.read_text())
    register, stop = template["flowyard:register:preview"], template["flowyard:teardown"]
    assert register["environment"]["on_stop"] == "flowyard:teardown"
    assert register["environment"]["auto_stop_in"] == "1 week"
    assert stop["environment"] == {"name": register["environment"]["name"], "action": "stop"}
    assert register["environment"]["name"] == "flowyard/mr-$CI_MERGE_REQUEST_IID"
    stages = template["stages"]
    assert stages.index(stop["stage"]) > stages.index(template[".flowyard:register"]["stage"])
    assert [rule["if"] for rule in stop["rules"]] == [rule["if"] for rule in register["rules"]]
    assert (stop["rules"][0]["when"], stop["rules"][0]["allow_failure"]) == ("manual", True)
    assert "flowyard ci teardown" in " ".join(stop["script"])
    skip, *rest = template["workflow"]["rules"]
    assert skip["when"] == "never" and "$CI_OPEN_MERGE_REQUESTS" in skip["if"] and '"push"' in skip["if"]
    assert rest == [{"when": "always"}], "every other pipeline (tags, schedules, the team's own) is left alone"
