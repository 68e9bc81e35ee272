"""The control plane's moving parts for integration tests: a real Celery worker (with beat) over Redis,
sharing the test database, and a sample workflow image whose behaviour a parameter picks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FLOWYARD = str(BIN / "flowyard")
RUN_LABEL = "org.flowyard.run"

BEHAVIOURS_CONFIG = {
    "name": "behaviours",
    "parameters": {"mode": "ok", "seconds": 0.0},
    "cloud-execution-environment": "docker",
    "memory": 256,
    "cpu": 256,
}
BEHAVIOURS_WORKFLOW = '''
import base64, os, time, traceback
from flowyard import flow, get_logger, task

TEN_TASKS = 10


@task
def work(mode: str, seconds: float) -> str:
    log = get_logger()
    if mode == "sleep":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
    elif mode == "oom":
        hog = []
        while True:
            hog.append(bytearray(32 * 1024 * 1024))
    elif mode == "secret":
        value = os.environ["API_KEY"]
        print(f"the key is {value}")
        print("base64:", base64.b64encode(value.encode()).decode())
        try:
            raise RuntimeError(f"cannot use {value!r}")
        except RuntimeError:
            log.error(traceback.format_exc())
    elif mode == "fail":
        raise ValueError("asked to fail")
    elif mode == "chatty":  # a numbered line every 0.1 s for `seconds`
        for number in range(int(seconds * 10)):
            print(f"chatty line {number}", flush=True)
            time.sleep(0.1)
    log.info("work done in mode %s", mode)
    return mode


@task(cache=True)
def remembered(seconds: float) -> float:
    get_logger().info("computed %s", seconds)
    return seconds * 2


@task
def step(number: int) -> int:
    return number * number


@flow(name="behaviours")
def behaviours(mode: str = "ok", seconds: float = 0.0):
    get_logger().info("first line of user code")
    if mode == "cached":  # a task whose result the environment's next runs take from its result store
        return remembered(seconds)
    if mode == "tasks":  # ten tasks, one after another, and a check line (the concurrent-runs benchmark)
        total = sum(step(number) for number in range(TEN_TASKS))
        get_logger().info("%d tasks done, total %d", TEN_TASKS, total)
        return total
    return work(mode, seconds)
'''


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def database_url_of(connection) -> str:
    """The URL of the database `connection` uses now (the test database), for subprocesses."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


class WorkerProcess:
    """`celery -A controlplane worker -B` as a subprocess, with its log kept for failure messages."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        """Start the worker (with embedded beat driving the reconciler); again after `stop()` too."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart: only the new lines
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "controlplane", "worker", "-B", "--pool=solo", "--loglevel=INFO",
             "-s", str(self.log_path.with_suffix(".schedule"))],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until(lambda: b"ready." in self.log_path.read_bytes()[offset:] or self.process.poll() is not None,
                   timeout=60, what="the Celery worker to be ready")
        assert self.process.poll() is None, self.log()
        return self

    def kill_9(self) -> None:
        """SIGKILL the worker: no cleanup, no acks."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the worker gracefully (SIGKILL if it lingers)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill_9()

    def log(self) -> str:
        """The worker's log so far."""
        return self.log_path.read_text(errors="replace")


def write_behaviours_repo(path: Path) -> Path:
    """A git repository of the behaviours workflow."""
    from flowyard_testkit.docker_env import git

    path.mkdir(parents=True, exist_ok=True)
    (path / "flowyard.json").write_text(json.dumps(BEHAVIOURS_CONFIG, indent=2) + "\n")
    (path / "workflow.py").write_text(textwrap.dedent(BEHAVIOURS_WORKFLOW))
    (path / ".gitignore").write_text(".flowyard/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "Behaviours for the runtime tests")
    return path


@pytest.fixture(scope="module")
def behaviours_image(tmp_path_factory, docker_client, registry, runtime_image, wheel_cache):
    """The behaviours workflow built and pushed once: (image reference, digest)."""
    from flowyard_testkit.docker_env import git

    repo = write_behaviours_repo(tmp_path_factory.mktemp("behaviours") / "repo")
    ref = f"{registry}/flowyard-test/behaviours:{git(repo, 'rev-parse', 'HEAD')[:12]}"
    for command in (["build", "--tag", ref, str(repo)], ["push", "--json", str(repo)]):
        result = subprocess.run([FLOWYARD, *command], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    return ref, json.loads(result.stdout)["image_digest"]


class Platform:
    """A tenant, a Docker runtime target, a worker, and helpers to deploy, trigger and wait."""

    def __init__(self, tenant, image, worker, docker) -> None:
        from rest_framework.test import APIClient

        from flowyard_spec.states import Role

        self.tenant, self.image, self.worker, self.docker = tenant, image, worker, docker
        self.api = APIClient()
        self.api.force_authenticate(tenant.users[Role.DEVELOPER])
        self._versions = 0

    def deploy(self, **config) -> str:
        """Register the behaviours image with `config` overrides and deploy it to `test`; the deployment id."""
        from controlplane.deployments import services as deployments
        from controlplane.workflows import services as workflows
        from flowyard_testkit.registration import register_version

        self._versions += 1
        name = f"behaviours-{self._versions}"
        workflow = workflows.workflow_create(actor=None, project=self.tenant.project, name=name)
        version = register_version(
            workflow=workflow, image_ref=self.image[0], image_digest=self.image[1],
            config={**BEHAVIOURS_CONFIG, "name": name, **config},
        )
        return str(deployments.deployment_set(actor=None, workflow=workflow, environment=self.tenant.test_env,
                                              version=version).pk)

    def trigger(self, deployment: str, **parameters) -> str:
        """Trigger a run through the API, as a developer; its id."""
        response = self.api.post("/api/v1/runs/", {"deployment": deployment, "parameters": parameters}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    def run(self, run_id: str) -> dict:
        """The run as the API shows it."""
        return self.api.get(f"/api/v1/runs/{run_id}/").json()

    def wait_for(self, run_id: str, *states: str, timeout: float = 90) -> dict:
        """Wait until the run is in one of `states`; fail with the worker's log otherwise."""
        try:
            wait_until(lambda: self.run(run_id)["state"] in states, timeout=timeout, what=f"run in {states}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; run: {self.run(run_id)}\nworker log:\n{self.worker.log()[-4000:]}") from None
        return self.run(run_id)

    def containers(self, run_id: str) -> list:
        """The run's containers, exited ones included (one removed while being listed is left out)."""
        return self.docker.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}, ignore_removed=True)

    def logs(self, run_id: str) -> list[str]:
        """The run's stored log messages, in order."""
        return [line["message"] for line in self.api.get(f"/api/v1/runs/{run_id}/logs/").json()["lines"]]


@contextlib.contextmanager
def running_platform(live_server, image, docker, tmp_path: Path, *, env: dict[str, str] | None = None,
                     target_settings: dict | None = None) -> Iterator[Platform]:
    """A live control plane whose default Docker runtime target has `target_settings` (default: the machine's
    engine, host network), a tenant and a running worker; stopped, and the tenant's containers removed, after.

    `docker` is the SDK client of the engine the target runs on; `env` overrides the worker's settings."""
    from django.db import connection

    from controlplane.core.models import Installation
    from controlplane.runtimes.backends.base import INSTALLATION_LABEL
    from controlplane.runtimes.models import RuntimeTarget
    from flowyard_testkit.tenants import build_tenant

    RuntimeTarget.objects.create(name="local-docker", kind="docker", settings=target_settings or {"network_mode": "host"},
                                 is_default=True)
    tenant = build_tenant("rt")
    api_url = live_server.url.replace("localhost", "127.0.0.1")
    worker_env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "FLOWYARD_DATABASE_URL": database_url_of(connection), "FLOWYARD_PUBLIC_URL": api_url,
        "FLOWYARD_RECONCILE_SECONDS": "1", "FLOWYARD_START_TIMEOUT_SECONDS": "60",
        "FLOWYARD_HEARTBEAT_TIMEOUT_SECONDS": "20", "FLOWYARD_CANCEL_GRACE_SECONDS": "3",
        **(env or {}),
    }
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    try:
        yield Platform(tenant, image, worker, docker)
    finally:
        worker.stop()
        # This installation's containers only: other sessions on the engine use the same tenant slugs.
        installation = worker_env.get("FLOWYARD_INSTALLATION_ID") or Installation.current().identifier
        mine = ["org.flowyard.managed=true", f"{INSTALLATION_LABEL}={installation}"]
        for container in docker.containers.list(all=True, filters={"label": mine}):
            if container.labels.get("org.flowyard.project") == tenant.project.slug:
                container.remove(force=True)
        for environment in tenant.project.environments.all():  # the result stores of the tenant's environments
            for volume in docker.volumes.list(filters={"name": f"flowyard-results-{environment.pk}"}):
                volume.remove(force=True)


@pytest.fixture
def platform(live_server, behaviours_image, docker_client, tmp_path, request):
    """A live control plane with a Docker runtime target on the machine's engine and a running worker.

    A test may override the worker's settings with indirect parametrization (a dict of environment variables)."""
    with running_platform(live_server, behaviours_image, docker_client, tmp_path,
                          env=getattr(request, "param", {})) as platform:
        yield platform
