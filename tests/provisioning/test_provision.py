"""scripts/provision: idempotent and quiet when everything is there; the engine, registry, base image and
runtime image it leaves behind are the ones the rest of the suite and the architecture expect."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from flowyard_testkit.docker_env import BASE_IMAGE, RUNTIME_IMAGE, docker_client, registry, run_python  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_CONFIG = Path("/var/lib/flowyard/registry.yml")


def provision(root: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """Run scripts/provision from `root`; fails the test when it exits non-zero."""
    result = subprocess.run([str(root / "scripts" / "provision")], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_second_run_does_nothing_says_nothing_and_returns_quickly():
    provision()  # may rebuild the runtime image when its sources changed since `make test` started
    started = time.monotonic()
    again = provision()
    assert (again.stdout, again.stderr) == ("", "")
    assert time.monotonic() - started < 5


def test_the_registry_is_loopback_only_without_auth(registry):  # noqa: F811
    config = REGISTRY_CONFIG.read_text()
    assert "addr: 127.0.0.1:5000" in config
    assert "rootdirectory: /var/lib/flowyard/registry" in config
    assert "auth:" not in config
    listeners = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and line.split()[1].endswith(":1388")]  # LISTEN on port 5000
    assert listeners == ["0100007F:1388"]


def test_the_engine_has_no_bridge_network(docker_client):  # noqa: F811
    assert {network.name for network in docker_client.networks.list()} <= {"host", "none"}


def test_the_base_image_is_built_from_debian_packages(docker_client):  # noqa: F811
    image = docker_client.images.get(BASE_IMAGE)
    assert "debootstrap --variant=minbase" in image.history()[0]["Comment"]
    output = docker_client.containers.run(BASE_IMAGE, ["python3", "-c", "import venv, ssl; print('ok')"],
                                          network_mode="host", remove=True)
    assert output.decode().strip() == "ok"


def test_build_base_image_returns_at_once_when_the_image_exists():
    started = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "build_base_image")], capture_output=True, text=True)
    assert result.returncode == 0 and (result.stdout, result.stderr) == ("", "")
    assert time.monotonic() - started < 3


def test_the_runtime_image_is_the_documented_contract(docker_client):  # noqa: F811
    version = re.search(r'__version__ = "(.+)"', (ROOT / "runtime_image/src/flowyard/__init__.py").read_text())[1]
    image = docker_client.images.get(RUNTIME_IMAGE)
    assert docker_client.images.get(f"flowyard/runtime:{version}").id == image.id
    config = image.attrs["Config"]
    assert config["User"] == "flowyard" and config["WorkingDir"] == "/workflow"
    assert config["Entrypoint"] == ["python", "-m", "flowyard", "run"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].startswith("/opt/flowyard/venv/bin:") and env["PYTHONUNBUFFERED"] == "1"
    assert re.fullmatch(r"[0-9a-f]{64}", config["Labels"]["org.flowyard.source-hash"])
    code = (
        "import os, pwd, sys, importlib.util as u; import flowyard, flowyard_spec.states, flowyard_spec.api; "
        "p = pwd.getpwuid(os.getuid()); "
        "print(p.pw_uid, p.pw_gid, p.pw_dir, os.path.isdir(p.pw_dir), sys.prefix, "
        "u.find_spec('pydantic') is None, u.find_spec('flowyard_spec.config') is None)"
    )
    assert run_python(docker_client, RUNTIME_IMAGE, code) == "10001 10001 /home/flowyard True /opt/flowyard/venv True True"


@pytest.fixture
def repo_copy(tmp_path, docker_client):  # noqa: F811
    """The files provision needs, in a scratch tree, building a throwaway runtime repository name."""
    for relative in ("scripts/provision", "scripts/build_base_image"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, tmp_path / relative)
    shutil.copytree(ROOT / "runtime_image", tmp_path / "runtime_image", ignore=shutil.ignore_patterns("__pycache__"))
    spec = tmp_path / "builder/src/flowyard_spec"
    spec.mkdir(parents=True)
    for name in ("__init__.py", "states.py", "api.py"):
        shutil.copy2(ROOT / "builder/src/flowyard_spec" / name, spec / name)
    repository = f"flowyard-test/runtime-{uuid.uuid4().hex[:8]}"
    yield tmp_path, repository
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            docker_client.images.remove(tag)


def test_the_runtime_image_is_rebuilt_when_the_sdk_changes(repo_copy, docker_client):  # noqa: F811
    root, repository = repo_copy
    first = provision(root, FLOWYARD_RUNTIME_REPO=repository)
    assert f"building {repository}:" in first.stdout
    assert provision(root, FLOWYARD_RUNTIME_REPO=repository).stdout == ""
    before = docker_client.images.get(f"{repository}:dev")
    (root / "runtime_image/src/flowyard/__init__.py").write_text(
        (root / "runtime_image/src/flowyard/__init__.py").read_text() + "\nPROVISION_PROBE = 1\n")
    assert f"building {repository}:" in provision(root, FLOWYARD_RUNTIME_REPO=repository).stdout
    after = docker_client.images.get(f"{repository}:dev")
    assert after.id != before.id
    assert after.labels["org.flowyard.source-hash"] != before.labels["org.flowyard.source-hash"]
    assert run_python(docker_client, after.id, "import flowyard; print(flowyard.PROVISION_PROBE)") == "1"
