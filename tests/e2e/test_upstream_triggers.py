"""Upstream triggers through real runs: a live API, a Celery worker over Redis, containers on Docker.

A workflow `a` deployed with `triggers.on_success: [b]`: when a run of `a` succeeds, `b` runs with `a`'s run id
(its flow reads it with `flowyard.run_context()` and logs it); when it fails, `b` does not run.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import BEHAVIOURS_CONFIG, FLOWYARD, platform, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# The behaviours workflow's parameters (mode, seconds), plus a log line with what run_context() says.
CONTEXT_WORKFLOW = '''
from flowyard import flow, get_logger, run_context, task


@task
def work(mode: str) -> str:
    if mode == "fail":
        raise ValueError("asked to fail")
    return mode


@flow(name="behaviours")
def behaviours(mode: str = "ok", seconds: float = 0.0):
    context = run_context()
    get_logger().info("run %s in %s after upstream run %s", context.run_id, context.environment,
                      context.upstream_run_id)
    return work(mode)
'''


@pytest.fixture(scope="module")
def behaviours_image(tmp_path_factory, docker_client, registry, runtime_image, wheel_cache):  # noqa: F811
    """Replaces the test kit's image for this module: a flow that logs its run context and fails on request."""
    from flowyard_testkit.docker_env import git

    repo = tmp_path_factory.mktemp("run-context") / "repo"
    repo.mkdir()
    (repo / "flowyard.json").write_text(json.dumps(BEHAVIOURS_CONFIG, indent=2) + "\n")
    (repo / "workflow.py").write_text(textwrap.dedent(CONTEXT_WORKFLOW))
    (repo / ".gitignore").write_text(".flowyard/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "A flow that logs its run context")
    ref = f"{registry}/flowyard-test/run-context:{git(repo, 'rev-parse', 'HEAD')[:12]}"
    for command in (["build", "--tag", ref, str(repo)], ["push", "--json", str(repo)]):
        result = subprocess.run([FLOWYARD, *command], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    return ref, json.loads(result.stdout)["image_digest"]


def downstream_runs(platform, upstream_id: str) -> list[dict]:  # noqa: F811
    """Runs whose upstream run is `upstream_id`, as the API lists them."""
    return [run for run in platform.api.get("/api/v1/runs/", {"limit": 500}).json()["results"]
            if run.get("upstream_run") == upstream_id]


def deploy_chain(platform) -> tuple[str, str]:  # noqa: F811
    """Deploy `b`, then `a` that triggers it on success; their deployment ids."""
    from controlplane.deployments.models import Deployment

    b = platform.deploy()
    b_name = Deployment.objects.get(pk=b).workflow.name
    return platform.deploy(triggers={"on_success": [b_name]}), b


def test_a_success_runs_the_downstream_workflow_which_sees_the_upstream_run_id(platform):  # noqa: F811
    a, b = deploy_chain(platform)
    a_run = platform.trigger(a, mode="ok")
    assert platform.wait_for(a_run, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    (b_run,) = wait_until(lambda: downstream_runs(platform, a_run), timeout=30, what="a run of b after a's success")
    assert b_run["deployment"] == b and b_run["trigger"] == "upstream"
    done = platform.wait_for(b_run["id"], "SUCCEEDED", "FAILED", "CRASHED")
    assert done["state"] == "SUCCEEDED", done
    assert done["upstream_run"] == a_run
    assert any(f"after upstream run {a_run}" in line for line in platform.logs(b_run["id"])), platform.logs(b_run["id"])
    assert any("after upstream run None" in line for line in platform.logs(a_run))


def test_a_failure_runs_nothing_downstream(platform):  # noqa: F811
    """After the failed run, a successful one: once its downstream run exists, the failed run's end (processed
    before the second run even started) has certainly been handled, and it started nothing."""
    from controlplane.runs.models import Run

    a, b = deploy_chain(platform)
    failed = platform.trigger(a, mode="fail")
    assert platform.wait_for(failed, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "FAILED"
    succeeded = platform.trigger(a, mode="ok")
    assert platform.wait_for(succeeded, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    wait_until(lambda: downstream_runs(platform, succeeded), timeout=30, what="a run of b after a's success")
    assert downstream_runs(platform, failed) == []
    assert list(Run.objects.filter(deployment_id=b).values_list("upstream_run_id", flat=True)) == [
        Run.objects.get(pk=succeeded).pk]
