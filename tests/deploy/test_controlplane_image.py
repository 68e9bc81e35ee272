"""deploy/images/controlplane: the image builds without network, and every mode runs as uid 10001 on a read-only root.

The image is built once per module with scripts/build_controlplane_image (flowyard/controlplane:dev, labelled
org.flowyard.component=controlplane; the script returns at once when nothing changed, and the test never removes
the image). Containers use the host network (dockerd runs without a bridge), listen on 127.0.0.1 only, share a
data folder made by the test (the SQLite database and the file broker of development mode), carry this test's label,
and are removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from flowyard_testkit.docker_env import docker_client  # noqa: F401 - fixture
from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build_controlplane_image"
PORTAL_STATIC = ROOT / "platform" / "src" / "controlplane" / "portal" / "static" / "portal"
IMAGE = "flowyard/controlplane:dev"
UID = 10001
TEST_LABEL = "org.flowyard.test"
# The first build makes the wheels and installs them (a few minutes on 2 cores); later ones are cached or skipped.
BUILD_TIMEOUT = 900


@pytest.fixture(scope="module")
def controlplane_image(docker_client) -> str:  # noqa: F811 - the fixture imported above
    """flowyard/controlplane:dev, built (or found up to date) by the build script."""
    result = subprocess.run([str(BUILD_SCRIPT), "--tag", IMAGE], capture_output=True, text=True,
                            timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"the build script failed:\n{result.stderr[-4000:]}"
    return IMAGE


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The data volume every container of this module mounts at /var/lib/flowyard (writable by uid 10001)."""
    path = tmp_path_factory.mktemp("controlplane-data")
    os.chmod(path, 0o777)  # the containers' user is not the test's
    return path


@pytest.fixture(scope="module")
def containers(docker_client):  # noqa: F811 - the fixture imported above
    """Start containers of the image with `start(command, port=...)`; this module's containers, and only those,
    are removed at the end (found by the run's own label value)."""
    run_label = {TEST_LABEL: f"controlplane-image-{uuid.uuid4().hex[:8]}"}

    def start(image: str, data: Path, command: list[str], port: int, **options):
        environment = {"FLOWYARD_MODE": "development", "FLOWYARD_BIND": f"127.0.0.1:{port}",
                       "FLOWYARD_LOG_LEVEL": "INFO", **options.pop("environment", {})}
        return docker_client.containers.run(
            image, command, detach=True, labels=run_label, environment=environment,
            read_only=True, tmpfs={"/tmp": ""}, network_mode="host", user=f"{UID}:{UID}",
            volumes={str(data): {"bind": "/var/lib/flowyard", "mode": "rw"}}, **options,
        )

    yield start
    for container in docker_client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={run_label[TEST_LABEL]}"}):
        container.remove(force=True)


@pytest.fixture(scope="module")
def web(controlplane_image, data_dir, containers):
    """The database migrated by the image's `migrate` mode, then the `web` mode (gunicorn) serving; (container,
    base URL). The health check runs every second here (the image's own interval is 15 s); "test": [] keeps the
    image's own check command."""
    migrate = containers(controlplane_image, data_dir, ["migrate"], port=free_port())
    outcome = migrate.wait(timeout=300)
    logs = migrate.logs().decode(errors="replace")
    assert outcome["StatusCode"] == 0, f"migrate failed:\n{logs[-4000:]}"

    port = free_port()
    container = containers(controlplane_image, data_dir, [], port=port,
                           healthcheck={"test": [], "interval": 1_000_000_000, "timeout": 5_000_000_000, "retries": 3,
                                        "start_period": 60_000_000_000})
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answer(f"{base}/healthz")[0] == 200 or exited(container), timeout=120,
               what="GET /healthz answering 200 from the web mode")
    assert not exited(container), container.logs().decode(errors="replace")[-4000:]
    return container, base


def answer(url: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of GET url; status 0 when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


def exited(container) -> bool:
    container.reload()
    return container.status in {"exited", "dead"}


def run_in(container, *command: str) -> str:
    """`docker exec` as the container's user; its output (fails the test on a non-zero exit)."""
    code, output = container.exec_run(list(command))
    assert code == 0, output.decode(errors="replace")
    return output.decode().strip()


def test_the_web_mode_answers_healthz_on_a_read_only_root(web):
    container, base = web
    status, headers, body = answer(f"{base}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    container.reload()
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert "gunicorn" in container.logs().decode(errors="replace").lower()


def test_the_portal_static_files_are_served_by_whitenoise_from_the_image(web):
    container, base = web
    status, headers, body = answer(f"{base}/static/portal/portal.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert body == (PORTAL_STATIC / "portal.css").read_bytes()  # the wheel carried the portal's own stylesheet
    # collectstatic ran at build time into the image: the content-hashed copy is there and served too.
    manifest = json.loads(run_in(container, "cat", "/opt/flowyard/static/staticfiles.json"))
    hashed = manifest["paths"]["portal/portal.css"]
    assert hashed != "portal/portal.css"
    status, headers, hashed_body = answer(f"{base}/static/{hashed}")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert hashed_body.strip()


def test_the_image_declares_a_healthcheck_on_healthz_and_the_container_becomes_healthy(docker_client, web):  # noqa: F811
    container, _ = web
    image_config = docker_client.images.get(IMAGE).attrs["Config"]
    assert image_config["Healthcheck"]["Test"] == ["CMD", "flowyard-healthcheck"]
    assert "/healthz" in run_in(container, "cat", "/usr/local/bin/flowyard-healthcheck")

    def health():
        container.reload()
        return container.attrs["State"]["Health"]["Status"] == "healthy"

    wait_until(health, timeout=60, what="the container's health check to report healthy")
    log = container.attrs["State"]["Health"]["Log"]
    assert log and log[-1]["ExitCode"] == 0


def test_every_process_of_the_web_mode_runs_as_uid_10001(docker_client, web):  # noqa: F811
    container, _ = web
    assert docker_client.images.get(IMAGE).attrs["Config"]["User"] == f"{UID}:{UID}"
    # PID 1 is the gunicorn master (the entrypoint execs it); its workers are the other python processes.
    pids = [name for name in run_in(container, "ls", "/proc").split() if name.isdigit()]
    seen = {}
    for pid in pids:
        code, output = container.exec_run(["cat", f"/proc/{pid}/status"])
        if code != 0:
            continue  # the exec's own short-lived processes
        fields = dict(line.split(":", 1) for line in output.decode().splitlines() if ":" in line)
        seen[pid] = (fields["Name"].strip(), fields["Uid"].split())
    assert "gunicorn" in seen["1"][0] or "python" in seen["1"][0], seen
    assert all(uids == [str(UID)] * 4 for _, uids in seen.values()), seen


def test_the_check_mode_runs_the_system_checks_and_the_readiness_checks(controlplane_image, data_dir, containers, web):
    check = containers(controlplane_image, data_dir, ["check"], port=free_port(), healthcheck={"test": ["NONE"]})
    outcome = check.wait(timeout=300)
    output = check.logs().decode(errors="replace")
    assert outcome["StatusCode"] == 0, output[-4000:]
    assert "System check identified no issues" in output
    assert "ok   database" in output and "ok   broker" in output


def test_the_worker_and_beat_modes_start_with_the_embedded_broker_on_a_read_only_root(
        controlplane_image, data_dir, containers, web):
    worker = containers(controlplane_image, data_dir, ["worker", "--concurrency", "1"], port=free_port(),
                        healthcheck={"test": ["NONE"]})
    beat = containers(controlplane_image, data_dir, ["beat"], port=free_port(), healthcheck={"test": ["NONE"]})

    def logs(container) -> str:
        return container.logs().decode(errors="replace")

    wait_until(lambda: "ready." in logs(worker) or exited(worker), timeout=120,
               what="the Celery worker to print 'ready.'")
    assert not exited(worker), logs(worker)[-4000:]
    # beat keeps its schedule in /tmp and sends the periodic tasks through the file broker on the data volume.
    wait_until(lambda: "Sending due task" in logs(beat) or exited(beat), timeout=120,
               what="Celery beat to send its first periodic task")
    assert not exited(beat), logs(beat)[-4000:]
    assert (data_dir / "broker").is_dir()
