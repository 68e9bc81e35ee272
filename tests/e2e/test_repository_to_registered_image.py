"""The first half of the loop, end to end: a git repository becomes a registered, runnable image.

Real git, the real `flowyard` command, the real Docker engine and registry on 127.0.0.1:5000, and a live
control plane (Django's live server over the test database).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from flowyard_spec.states import Role
from flowyard_testkit.docker_env import docker_client, git, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.tenants import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)

FLOWYARD = str(Path(sys.executable).parent / "flowyard")
CONFIG = {
    "name": "greeter",
    "schedule-enabled": False,
    "parameters": {"day": "2026-01-01", "greeting": "hello"},
    "cloud-execution-environment": "docker",
    "memory": 512,
    "cpu": 256,
}
WORKFLOW = '''
import six
from flowyard import flow, get_logger, task


@task(retries=1)
def shout(greeting: str, day: str) -> str:
    message = six.ensure_text(f"{greeting.upper()} on {day}")
    get_logger().info("shouting %s", message)
    return message


@flow(name="greeter")
def greeter(day: str, greeting: str = "hello"):
    return shout(greeting, day)
'''


def flowyard(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the real `flowyard` command; fail the test with its output when it does not exit 0."""
    result = subprocess.run([FLOWYARD, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"flowyard {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def repository(tmp_path) -> Path:
    """A team's workflow repository: flowyard.json, workflow.py, a dependency, on a feature branch."""
    repo = tmp_path / "greeter"
    repo.mkdir()
    (repo / "flowyard.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    (repo / "workflow.py").write_text(textwrap.dedent(WORKFLOW))
    (repo / "requirements.txt").write_text("six==1.16.0\n")
    (repo / ".gitignore").write_text(".flowyard/\n")
    git(repo, "init", "-q", "-b", "feature/greet")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Greet the day")
    return repo


def test_a_repository_is_validated_built_pushed_registered_and_runs(
    repository, live_server, docker_client, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    tenant = build_tenant("e2e")
    commit = git(repository, "rev-parse", "HEAD")
    image_ref = f"{registry}/flowyard-test/e2e-greeter:{commit[:12]}"
    image_cleanup.append(image_ref)

    flowyard("validate", str(repository), cwd=repository)
    flowyard("build", "--tag", image_ref, str(repository), cwd=repository)
    pushed = json.loads(flowyard("push", "--json", str(repository), cwd=repository).stdout)
    assert pushed["image_digest"].startswith("sha256:")
    api_url = live_server.url.replace("localhost", "127.0.0.1")
    registered = json.loads(flowyard(
        "register", "--api", api_url, "--token", tenant.ci_token_value, "--project", tenant.project.slug, "--json",
        str(repository), cwd=repository,
    ).stdout)
    assert registered["created"] is True

    # The version, with its digest and commit, is visible through the API, and `test` runs it.
    developer = APIClient()
    developer.force_authenticate(tenant.users[Role.DEVELOPER])
    versions = developer.get("/api/v1/versions/", {"project": str(tenant.project.pk)}).json()["results"]
    version = next(v for v in versions if v["image_digest"] == pushed["image_digest"])
    assert version["git_commit_sha"] == commit and version["git_branch"] == "feature/greet"
    assert version["image_ref"] == image_ref
    labels = docker_client.images.get(image_ref).labels
    assert labels["org.flowyard.config-hash"] == version["config_hash"], "builder and control plane hash alike"
    assert labels["org.flowyard.commit"] == commit
    deployments = developer.get("/api/v1/deployments/", {"workflow": version["workflow"]}).json()["results"]
    test_deployment = next(d for d in deployments if d["environment_name"] == "test")
    assert test_deployment["version"] == version["id"]

    # The image runs with plain `docker run` and executes the flow with the parameters given.
    output = docker_client.containers.run(
        image_ref, ["--param", "day=2026-02-02", "--param", "greeting=hi"], network_mode="host", remove=True,
        stdout=True, stderr=True,
    ).decode()
    assert "HI on 2026-02-02" in output
    assert "SUCCEEDED" in output

    # Triggered through the API and started with the run's token, the container reports back. (The config asks
    # for docker, so the platform needs a Docker target to accept the trigger; no worker launches it here.)
    from controlplane.runs.models import Run
    from controlplane.runtimes.models import RuntimeTarget
    from flowyard_testkit.tokens import run_token_issue

    RuntimeTarget.objects.create(name="docker", kind="docker", settings={"network_mode": "host"}, is_default=True)
    triggered = developer.post(
        "/api/v1/runs/", {"deployment": test_deployment["id"], "parameters": {"day": "2026-03-03"}}, format="json"
    )
    assert triggered.status_code == 201, triggered.json()
    run = Run.objects.get(pk=triggered.json()["id"])
    host = urlparse(api_url)
    docker_client.containers.run(
        image_ref, network_mode="host", remove=True, environment={
            "FLOWYARD_API_URL": f"http://127.0.0.1:{host.port}", "FLOWYARD_RUN_ID": str(run.pk),
            "FLOWYARD_RUN_TOKEN": run_token_issue(run=run), "FLOWYARD_PARAMETERS": json.dumps(run.parameters),
        },
    )
    shown = developer.get(f"/api/v1/runs/{run.pk}/").json()
    assert shown["state"] == "SUCCEEDED", shown
    tasks = developer.get(f"/api/v1/runs/{run.pk}/tasks/").json()
    assert [(t["name"], t["state"]) for t in tasks] == [("shout", "SUCCEEDED")]
    logs = developer.get(f"/api/v1/runs/{run.pk}/logs/").json()["lines"]
    assert [line["seq"] for line in logs] == list(range(1, len(logs) + 1))
    assert any("shouting HELLO on 2026-03-03" in line["message"] for line in logs)
