"""R7, the runs' part: the control plane (a web process and a worker) on a PostgreSQL cluster of the test's own,
which is stopped for 60 s while a run in a real container prints a numbered line every 0.1 s. The runner keeps
what it could not send and sends it again; afterwards the run is SUCCEEDED and every line is stored exactly
once, in order, with no gap in the sequence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import WorkerProcess, behaviours_image, wait_until  # noqa: F401
from flowyard_testkit.ports import free_port
from flowyard_testkit.postgres import own_postgres  # noqa: F401

BIN = Path(sys.executable).parent
SUPPORT = Path(__file__).resolve().parents[1] / "support"
OUTAGE_SECONDS = 60
RUN_SECONDS = 40
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
tenant = build_tenant("r7")
workflow = workflows.workflow_create(actor=None, project=tenant.project, name="chatty")
version = register_version(workflow=workflow, image_ref=sys.argv[1], image_digest=sys.argv[2],
                           config={**BEHAVIOURS_CONFIG, "name": "chatty"})
deployment = deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.test_env, version=version)
_, token = tenancy.personal_token_create(actor=tenant.users[Role.DEVELOPER], name="r7")
print(json.dumps({"deployment": str(deployment.pk), "token": token}))
"""


@pytest.fixture(autouse=True)
def _database():
    """The control plane under test uses its own cluster, not the test database."""


def call(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_a_database_outage_of_a_minute_loses_and_duplicates_no_log_line(
        own_postgres, behaviours_image, docker_client, tmp_path):  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "controlplane.settings.development",
           "FLOWYARD_DATABASE_URL": own_postgres.url, "FLOWYARD_DATA_DIR": str(tmp_path / "data"),
           "FLOWYARD_PUBLIC_URL": base, "FLOWYARD_RECONCILE_SECONDS": "1", "FLOWYARD_HEARTBEAT_TIMEOUT_SECONDS": "120",
           "FLOWYARD_INSTALLATION_ID": f"r7-{port}", "PYTHONPATH": str(SUPPORT)}
    subprocess.run([str(BIN / "flowyard-admin"), "migrate", "-v", "0"], env=env, check=True, timeout=300)
    seeded = subprocess.run([sys.executable, "-c", SEED, *behaviours_image], env=env, capture_output=True, text=True,
                            timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    world = json.loads(seeded.stdout.strip().splitlines()[-1])
    with open(tmp_path / "web.log", "wb") as output:
        web = subprocess.Popen([str(BIN / "flowyard-admin"), "serve", "--no-migrate", f"127.0.0.1:{port}"], env=env,
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    worker = None
    try:
        wait_until(lambda: _answers(base), timeout=60, what="the web process")
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        status, run = call(base, world["token"], "/api/v1/runs/",
                           {"deployment": world["deployment"], "parameters": {"mode": "chatty", "seconds": RUN_SECONDS}})
        assert status == 201, run
        run_path = f"/api/v1/runs/{run['id']}/"
        wait_until(lambda: call(base, world["token"], run_path)[1].get("state") == "RUNNING", timeout=120,
                   what="the run to be RUNNING")

        own_postgres.stop()
        began = time.monotonic()
        assert call(base, world["token"], run_path)[0] == 503
        wait_until(lambda: time.monotonic() - began >= OUTAGE_SECONDS, timeout=OUTAGE_SECONDS + 5,
                   what="the outage's minute", every=1)
        own_postgres.start()

        ended = wait_until(lambda: (r := call(base, world["token"], run_path)[1]).get("state") in (
            "SUCCEEDED", "FAILED", "CRASHED") and r, timeout=120, what="the run to end")
        assert ended["state"] == "SUCCEEDED", ended
        status, log = call(base, world["token"], f"{run_path}logs/?limit=5000")
        assert status == 200
        lines = log["lines"]
        assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1)), "no gap and no duplicate"
        chatty = [line["message"] for line in lines if line["message"].startswith("chatty line")]
        assert chatty == [f"chatty line {number}" for number in range(RUN_SECONDS * 10)]
    finally:
        if worker is not None:
            worker.stop()
        web.terminate()
        web.wait(timeout=20)
        for container in docker_client.containers.list(all=True, filters={"label": f"org.flowyard.installation=r7-{port}"}):
            container.remove(force=True)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
