"""deploy/compose: the whole platform on one host comes up with the machine's docker-compose and runs a workflow.

The images are those scripts/build_compose_images makes here (the control plane, and PostgreSQL, Redis and the
registry from Debian packages: no public image can be pulled). dockerd has no bridge on these machines, so the stack
runs with compose.host-network.yaml on free loopback ports, under a project name and installation id of the test's
own; everything it made (containers, volumes, the workflow containers its worker launched) is removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.runtimes.backends.base import INSTALLATION_LABEL
from flowyard_testkit.docker_env import docker_client  # noqa: F401 - fixture
from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
BUILD_SCRIPT = ROOT / "scripts" / "build_compose_images"
EXAMPLE = ROOT / "examples" / "hello"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
SERVICES = {"postgres", "redis", "registry", "web", "worker", "beat"}
# The first build makes the control plane's wheels and a Debian base with PostgreSQL, Redis and the registry.
BUILD_TIMEOUT = 1500


@dataclass
class Stack:
    """A running compose project: its name, files, and where its web and registry listen."""

    project: str
    env_file: Path
    web_url: str
    registry: str
    installation_id: str

    def compose(self, *arguments: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """Run docker-compose on this project (host network files) and return what it did."""
        command = ["docker-compose", "--project-name", self.project, "--env-file", str(self.env_file),
                   "-f", "compose.yaml", "-f", "compose.host-network.yaml", *arguments]
        result = subprocess.run(command, cwd=COMPOSE_DIR, capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{' '.join(arguments)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result

    def logs(self) -> str:
        """The last lines of every service's log (for failure messages)."""
        return self.compose("logs", "--no-color", "--tail", "40", check=False).stdout


@pytest.fixture(scope="module")
def compose_images() -> None:
    """The control plane image and the Debian-built PostgreSQL, Redis and registry images (kept between runs)."""
    assert shutil.which("docker-compose"), "docker-compose is missing: scripts/provision installs Debian's"
    result = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"the build script failed:\n{result.stderr[-4000:]}"


def write_env_file(path: Path, *, web: int, registry: int, postgres: int, redis: int, installation_id: str) -> None:
    """.env.example's values, filled in for this machine: host network, free loopback ports, the Debian images."""
    docker_gid = os.stat("/var/run/docker.sock").st_gid
    values = {
        "STACK_POSTGRES_PASSWORD": uuid.uuid4().hex, "STACK_REDIS_PASSWORD": uuid.uuid4().hex,
        "STACK_DOCKER_GID": str(docker_gid),
        "STACK_POSTGRES_IMAGE": "flowyard/postgres:15-bookworm", "STACK_REDIS_IMAGE": "flowyard/redis:7-bookworm",
        "STACK_REGISTRY_IMAGE": "flowyard/registry:2-bookworm", "STACK_CONTROLPLANE_IMAGE": "flowyard/controlplane:dev",
        "STACK_WEB_PORT": str(web), "STACK_REGISTRY_PORT": str(registry), "STACK_POSTGRES_PORT": str(postgres),
        "STACK_REDIS_PORT": str(redis), "STACK_WORKER_CONCURRENCY": "2", "STACK_ENV_FILE": str(path),
        "STACK_LISTEN": "127.0.0.1", "STACK_POSTGRES_HOST": "127.0.0.1", "STACK_REDIS_HOST": "127.0.0.1",
        "FLOWYARD_SECRET_KEY": uuid.uuid4().hex * 2,
        "FLOWYARD_PUBLIC_URL": f"http://127.0.0.1:{web}", "FLOWYARD_PORTAL_URL": f"http://127.0.0.1:{web}",
        "FLOWYARD_ALLOWED_HOSTS": "127.0.0.1,localhost", "FLOWYARD_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{web}",
        "FLOWYARD_HTTPS_REDIRECT": "false", "FLOWYARD_PASSWORD_LOGIN_ALLOWED": "true",
        "FLOWYARD_INSTALLATION_ID": installation_id, "FLOWYARD_RECONCILE_SECONDS": "2",
    }
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    path.chmod(0o600)


def http_status(url: str) -> int:
    """The status of GET url; 0 when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


@pytest.fixture(scope="module")
def stack(compose_images, tmp_path_factory, docker_client) -> Iterator[Stack]:  # noqa: F811 - the fixture above
    """The platform brought up by docker-compose; taken down with its volumes and workflow containers after."""
    suffix = uuid.uuid4().hex[:8]
    env_file = tmp_path_factory.mktemp("compose") / "stack.env"
    web, registry = free_port(), free_port()
    write_env_file(env_file, web=web, registry=registry, postgres=free_port(), redis=free_port(),
                   installation_id=f"compose-test-{suffix}")
    running = Stack(project=f"flowyard-test-{suffix}", env_file=env_file, web_url=f"http://127.0.0.1:{web}",
                    registry=f"127.0.0.1:{registry}", installation_id=f"compose-test-{suffix}")
    try:
        running.compose("up", "-d", timeout=600)
        wait_until(lambda: http_status(f"{running.web_url}/healthz") == 200, timeout=180,
                   what="the web service to answer GET /healthz")
        yield running
    finally:
        running.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False, timeout=300)
        label = f"{INSTALLATION_LABEL}={running.installation_id}"
        for container in docker_client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)


def service_states(stack: Stack) -> dict[str, tuple[str, str]]:
    """Per service: (state, health) of its container, as docker inspect says."""
    ids = stack.compose("ps", "-q").stdout.split()
    inspected = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                          timeout=60, check=True).stdout)
    return {
        item["Config"]["Labels"]["com.docker.compose.service"]: (
            item["State"]["Status"], item["State"].get("Health", {}).get("Status", "none"))
        for item in inspected
    }


def test_every_service_runs_and_those_with_a_health_check_are_healthy(stack):
    def all_up() -> bool:
        states = service_states(stack)
        return all(states.get(name, ("", ""))[0] == "running" for name in SERVICES) and all(
            health in {"healthy", "none"} for _, health in states.values() if _ == "running")

    wait_until(all_up, timeout=120, what="every service running and healthy")
    states = service_states(stack)
    assert {name for name in SERVICES if states[name][1] == "healthy"} == {"postgres", "redis", "registry", "web"}
    # migrate ran once and exited cleanly before web, worker and beat started.
    migrate = stack.compose("ps", "migrate").stdout
    assert "Exit 0" in migrate, migrate


def test_a_workflow_built_pushed_and_registered_runs_to_success_through_the_stack(stack, tmp_path):
    seeded = stack.compose("exec", "-T", "web", "flowyard-admin", "seed_demo", "--url", stack.web_url,
                           "--runtime", "docker", "--token-dir", "/var/lib/flowyard/tokens")
    assert "Flowyard demo is ready" in seeded.stdout

    def token(name: str) -> str:
        return stack.compose("exec", "-T", "web", "cat", f"/var/lib/flowyard/tokens/{name}.token").stdout.strip()

    environment = {**os.environ, "FLOWYARD_API_URL": stack.web_url, "FLOWYARD_CI_TOKEN": token("ci"),
                   "FLOWYARD_TOKEN": token("developer"), "FLOWYARD_PROJECT": "sales-reports",
                   "XDG_CONFIG_HOME": str(tmp_path)}

    def flowyard(*arguments: str, timeout: float = 300) -> str:
        result = subprocess.run([str(VENV_BIN / "flowyard"), *arguments], env=environment, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, (f"flowyard {' '.join(arguments)} failed:\n{result.stdout[-3000:]}"
                                        f"{result.stderr[-3000:]}\n{stack.logs()[-6000:]}")
        return result.stdout

    flowyard("build", "--tag", f"{stack.registry}/compose-test/hello:{uuid.uuid4().hex[:8]}", str(EXAMPLE))
    flowyard("push", str(EXAMPLE))
    flowyard("register", str(EXAMPLE))
    triggered = json.loads(flowyard("trigger", "sales-reports/hello", "--env", "test", "--param", "day=2026-12-04",
                                    "--json"))
    run_id = triggered["id"]
    log = flowyard("runs", "logs", run_id, "--follow", timeout=300)
    run = json.loads(flowyard("runs", "show", run_id, "--json"))

    assert run["state"] == "SUCCEEDED", (run, log[-3000:], stack.logs()[-6000:])
    # The stack's worker (its reconciler, driven by the stack's beat) records the container's exit once it ended.
    def exit_code():
        return json.loads(flowyard("runs", "show", run_id, "--json"))["exit_code"]

    wait_until(lambda: exit_code() is not None, timeout=60, what="the stack's worker to record the exit code")
    assert exit_code() == 0
    assert "3 greetings sent" in log


# -- the files themselves (no containers) ----------------------------------------------------------------------
def example_variables() -> set[str]:
    """Every variable .env.example sets or shows commented out."""
    lines = (COMPOSE_DIR / ".env.example").read_text().splitlines()
    return {match.group(1) for line in lines if (match := re.match(r"^#?([A-Z][A-Z0-9_]*)=", line))}


def test_the_example_environment_lists_every_flowyard_variable_and_every_stack_setting():
    from controlplane.config import FlowyardConfig

    listed = example_variables()
    every_setting = {f"FLOWYARD_{name.upper()}" for name in FlowyardConfig.model_fields}
    assert every_setting - listed == set()
    interpolated = set(re.findall(r"\$\{(STACK_[A-Z0-9_]+)", (COMPOSE_DIR / "compose.yaml").read_text()))
    assert interpolated - listed == set()
    assert {name for name in listed if name.startswith("STACK_")} - interpolated == set()  # nothing stale


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.override.yaml"],
                                   ["compose.yaml", "compose.host-network.yaml"]])
def test_compose_accepts_the_files_with_the_example_environment(files):
    options = [argument for name in files for argument in ("-f", name)]
    environment = {**os.environ, "STACK_ENV_FILE": ".env.example"}  # the containers' env_file: the example too
    result = subprocess.run(["docker-compose", "--env-file", ".env.example", *options, "config"], cwd=COMPOSE_DIR,
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "change-me" in result.stdout  # the example's values went in: nothing unset was left empty


def test_compose_refuses_to_start_without_the_passwords_and_names_the_missing_one(tmp_path):
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    result = subprocess.run(["docker-compose", "--env-file", str(env_file), "config"], cwd=COMPOSE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "STACK_POSTGRES_PASSWORD" in result.stderr or "STACK_REDIS_PASSWORD" in result.stderr
