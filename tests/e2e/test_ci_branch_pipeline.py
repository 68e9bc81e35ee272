"""`flowyard ci` in a GitLab branch pipeline, for real: the example workflow in a git repository checked out
detached (as GitLab checks out), the real Docker engine and registry on 127.0.0.1:5000, and a live control
plane. The pipeline validates, builds `<registry image>:<short sha>`, pushes, registers the version with the
pipeline's commit, branch and author, and `test` runs it; running the same pipeline again registers nothing new.
With --smoke (FLOWYARD_SMOKE=1) it starts a run in test on a real worker and Docker target, follows it, and
its exit code is the run's outcome.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowyard_testkit.docker_env import docker_client, git, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import running_platform
from flowyard_testkit.tenants import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
FLOWYARD = str(Path(sys.executable).parent / "flowyard")


@pytest.fixture
def checkout(tmp_path) -> tuple[Path, str]:
    """examples/hello as a team's repository with a commit on feature/greet, checked out detached; (path, sha)."""
    repo = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", repo)
    (repo / ".gitignore").write_text(".flowyard/\n")
    git(repo, "init", "-q", "-b", "feature/greet")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Say hello")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", sha)
    return repo, sha


def pipeline_environment(sha: str, live_server, registry: str, token: str, project: str, **extra: str) -> dict:  # noqa: F811
    """The job's environment: what GitLab sets for a push pipeline, plus the template's FLOWYARD_* variables."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("GITLAB_", "GITHUB_", "CI_"))}
    return {**inherited, "GITLAB_CI": "true", "CI": "true", "CI_COMMIT_SHA": sha, "CI_COMMIT_REF_NAME": "feature/greet",
            "CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push", "CI_PROJECT_ID": "42",
            "CI_PROJECT_PATH": "analytics/hello", "GITLAB_USER_LOGIN": "ada",
            "CI_PIPELINE_URL": "https://gitlab.example.com/analytics/hello/-/pipelines/7",
            "FLOWYARD_REGISTRY_IMAGE": f"{registry}/flowyard-test/ci-hello",
            "FLOWYARD_API_URL": live_server.url.replace("localhost", "127.0.0.1"), "FLOWYARD_CI_TOKEN": token,
            "FLOWYARD_PROJECT": project, **extra}


def run_ci(repo: Path, environ: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWYARD, "ci", *args], cwd=repo, env=environ, capture_output=True, text=True, timeout=600)


def test_a_branch_pipeline_ships_the_commit_to_test_once(
    checkout, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client  # noqa: F811
):
    from controlplane.workflows.models import WorkflowVersion

    repo, sha = checkout
    tenant = build_tenant("ci")
    environ = pipeline_environment(sha, live_server, registry, tenant.ci_token_value, tenant.project.slug)
    tag = f"{registry}/flowyard-test/ci-hello:{sha[:8]}"
    image_cleanup.append(tag)

    first = run_ci(repo, environ)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "gitlab pipeline: a push to branch feature/greet at " + sha[:8] + " by ada" in first.stderr
    for number, step in enumerate(["validate", "build", "push", "register"], 1):
        assert f"step {number}/5: {step}" in first.stderr
    version = WorkflowVersion.objects.get(workflow__project=tenant.project, workflow__name="hello")
    assert (version.git_commit_sha, version.git_branch, version.git_author) == (sha, "feature/greet", "ada"), \
        "the pipeline's commit and branch, though the checkout is detached"
    assert version.image_ref == tag
    assert docker_client.images.get(tag).labels["org.flowyard.commit"] == sha
    deployed = version.deployments.get()
    assert deployed.environment.name == "test"

    again = run_ci(repo, environ)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already registered" in again.stdout
    assert WorkflowVersion.objects.filter(workflow__project=tenant.project, workflow__name="hello").count() == 1, "a re-run registers nothing"


def test_a_pipeline_without_its_token_names_the_variable_and_builds_nothing(checkout, live_server, registry):  # noqa: F811
    from controlplane.workflows.models import WorkflowVersion

    repo, sha = checkout
    tenant = build_tenant("ci")
    environ = pipeline_environment(sha, live_server, registry, "", tenant.project.slug)
    result = run_ci(repo, environ)
    assert result.returncode == 1
    assert "FLOWYARD_CI_TOKEN not set" in result.stderr
    assert "step 1" not in result.stderr and not (repo / ".flowyard").exists(), "nothing ran"
    assert not WorkflowVersion.objects.filter(workflow__project=tenant.project, workflow__name="hello").exists()


def test_a_merge_request_pipeline_is_refused_before_anything_is_built_until_previews_exist(
    checkout, live_server, registry  # noqa: F811
):
    repo, sha = checkout
    tenant = build_tenant("ci")
    environ = pipeline_environment(
        sha, live_server, registry, tenant.ci_token_value, tenant.project.slug, CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_IID="12", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature/greet",
        CI_MERGE_REQUEST_PROJECT_ID="42", CI_MERGE_REQUEST_SOURCE_PROJECT_ID="42")
    plan = run_ci(repo, environ, "plan")
    assert plan.returncode == 0 and "5. deploy it to mr-12" in plan.stdout
    refused = run_ci(repo, environ)
    assert refused.returncode == 3
    assert "deploying to the preview environment mr-12 is not available" in refused.stderr
    assert "nothing was done" in refused.stderr and not (repo / ".flowyard").exists()


def test_a_branch_pipeline_with_smoke_runs_the_build_in_test_and_exits_with_its_outcome(
    checkout, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client, tmp_path  # noqa: F811
):
    from controlplane.runs.models import Run

    repo, sha = checkout
    image_cleanup.append(f"{registry}/flowyard-test/ci-hello:{sha[:8]}")
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        environ = pipeline_environment(sha, live_server, registry, tenant.ci_token_value, tenant.project.slug,
                                       FLOWYARD_SMOKE="1")
        result = run_ci(repo, environ)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "step 6/6: smoke" in result.stderr
        assert "Hello Ada, today is" in result.stdout, "the smoke run's log is followed in the job log"
        run = Run.objects.get(deployment__workflow__name="hello", deployment__environment__name="test")
        assert run.state == "SUCCEEDED" and run.version.git_commit_sha == sha
        assert f"run {run.pk} SUCCEEDED" in result.stderr
        assert run.triggered_by_label.startswith("ci-token:")
