"""The GitLab template, run for real: a repository made from examples/hello includes
ci_templates/gitlab/flowyard.gitlab-ci.yml, and gitlab-ci-local (shell executor, installed by scripts/provision)
runs its pipeline against a live control plane with a worker, the Docker engine and the registry on
127.0.0.1:5000. A feature-branch pipeline validates, builds, pushes, registers that commit, and its smoke run
in test ends SUCCEEDED; a pipeline whose workflow is invalid stops at validate with the field named.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def run_pipeline(repo: Path, variables: dict[str, str]) -> subprocess.CompletedProcess:
    """gitlab-ci-local's pipeline in `repo`, with `variables` as the project's CI/CD variables.

    gitlab-ci-local sets GITLAB_CI=false to tell itself apart; the pipeline gets "true", as on GitLab."""
    environ = job_environment(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    arguments = [f"--variable={name}={value}" for name, value in {"GITLAB_CI": "true", **variables}.items()]
    return subprocess.run([str(GITLAB_CI_LOCAL), "--no-color", *arguments], cwd=repo, env=environ,
                          capture_output=True, text=True, timeout=PIPELINE_SECONDS)


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
