"""A control plane in processes of its own: a web process (`flowyard-admin serve`) and Celery workers on a
PostgreSQL cluster of the test's own, with the behaviours image deployed. Unlike the live server inside pytest,
each part can be stopped and started again, as an outage or a rolling restart does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from flowyard_testkit.platform import WorkerProcess
from flowyard_testkit.ports import free_port
from flowyard_testkit.postgres import OwnPostgres
from flowyard_testkit.web import WebProcess

BIN = Path(sys.executable).parent
SUPPORT = Path(__file__).resolve().parents[1]
SEED = """
import json, sys
import django
django.setup()
from controlplane.deployments import services as deployments
from controlplane.runtimes.models import RuntimeTarget
from controlplane.tenancy import services as tenancy
from controlplane.workflows import services as workflows
from flowyard_spec.states import Role
from flowyard_testkit.platform import BEHAVIOURS_CONFIG
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import build_tenant

RuntimeTarget.objects.create(name="local-docker", kind="docker", settings={"network_mode": "host"}, is_default=True)
tenant = build_tenant("own")
workflow = workflows.workflow_create(actor=None, project=tenant.project, name="behaviours")
version = register_version(workflow=workflow, image_ref=sys.argv[1], image_digest=sys.argv[2],
                           config={**BEHAVIOURS_CONFIG, "name": "behaviours"})
deployment = deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.test_env, version=version)
_, token = tenancy.personal_token_create(actor=tenant.users[Role.DEVELOPER], name="own")
print(json.dumps({"deployment": str(deployment.pk), "token": token}))
"""


class OwnControlPlane:
    """Web and workers of their own on `postgres`; `image` is the behaviours image (ref, digest)."""

    def __init__(self, postgres: OwnPostgres, image: tuple[str, str], tmp_path: Path) -> None:
        self.postgres, self.tmp_path = postgres, tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.installation = f"own-{self.port}"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "controlplane.settings.development",
                    "FLOWYARD_DATABASE_URL": postgres.url, "FLOWYARD_DATA_DIR": str(tmp_path / "data"),
                    "FLOWYARD_PUBLIC_URL": self.base, "FLOWYARD_RECONCILE_SECONDS": "1",
                    "FLOWYARD_HEARTBEAT_TIMEOUT_SECONDS": "120", "FLOWYARD_INSTALLATION_ID": self.installation,
                    # A queue of its own on the session's broker: no other worker of the session takes its tasks.
                    "FLOWYARD_TASK_QUEUE": self.installation, "FLOWYARD_SCHEDULER_QUEUE": "",
                    "PYTHONPATH": str(SUPPORT)}
        subprocess.run([str(BIN / "flowyard-admin"), "migrate", "-v", "0"], env=self.env, check=True, timeout=300)
        seeded = subprocess.run([sys.executable, "-c", SEED, *image], env=self.env, capture_output=True, text=True,
                                timeout=120)
        assert seeded.returncode == 0, seeded.stderr
        world = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.deployment, self.token = world["deployment"], world["token"]
        self.web: WebProcess | None = None
        self.workers: list[WorkerProcess] = []
        self._starts = 0

    # -- processes -------------------------------------------------------------------------------------------
    def start_web(self) -> None:
        """Start the web process and wait until it answers."""
        self._starts += 1
        self.web = WebProcess.serve(self.env, self.tmp_path / f"web-{self._starts}.log", self.port)

    def stop_web(self) -> None:
        """Stop the web process (SIGTERM)."""
        if self.web is not None:
            self.web.stop(timeout=20)

    def start_worker(self) -> WorkerProcess:
        """Start one more worker (with its own beat)."""
        self._starts += 1
        worker = WorkerProcess(self.env, self.tmp_path / f"worker-{self._starts}.log").start()
        self.workers.append(worker)
        return worker

    def restart_worker(self, index: int) -> None:
        """Stop worker `index` and start a new one in its place."""
        self.workers[index].stop()
        self._starts += 1
        self.workers[index] = WorkerProcess(self.env, self.tmp_path / f"worker-{self._starts}.log").start()

    def stop(self, docker_client) -> None:
        """Stop everything and remove this installation's containers."""
        for worker in self.workers:
            worker.stop()
        self.stop_web()
        for container in docker_client.containers.list(
                all=True, filters={"label": f"org.flowyard.installation={self.installation}"}):
            container.remove(force=True)

    # -- the API -----------------------------------------------------------------------------------------------
    def call(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        """GET (or POST `body`) with the developer's token: the status and the JSON answer ({} on an error)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method="POST" if body is not None else "GET",
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    def trigger(self, **parameters) -> str:
        """Start a run of the behaviours deployment; its id."""
        status, run = self.call("/api/v1/runs/", {"deployment": self.deployment, "parameters": parameters})
        assert status == 201, run
        return run["id"]

    def state(self, run_id: str) -> str | None:
        """The run's state (None while the API does not answer)."""
        try:
            return self.call(f"/api/v1/runs/{run_id}/")[1].get("state")
        except OSError:
            return None

    def log_lines(self, run_id: str) -> list[dict]:
        """Every stored log line of the run."""
        status, page = self.call(f"/api/v1/runs/{run_id}/logs/?limit=5000")
        assert status == 200
        return page["lines"]
