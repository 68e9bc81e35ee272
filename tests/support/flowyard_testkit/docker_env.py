"""Docker and registry helpers for tests: the engine, the registry on 127.0.0.1:5000, the runtime image,
sample workflow repositories, and cleanup of the images a test makes.

`make test` runs scripts/provision first, so the engine, the registry and flowyard/runtime:dev exist; when
they do not, the fixtures fail with a message that says to run scripts/provision (never a silent skip).
Import the fixtures you use into the test module: `from flowyard_testkit.docker_env import docker_client`.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REGISTRY = "127.0.0.1:5000"
RUNTIME_IMAGE = os.environ.get("FLOWYARD_RUNTIME_IMAGE", "flowyard/runtime:dev")
BASE_IMAGE = "flowyard/base:bookworm"
TEST_REPOSITORY_PREFIX = "flowyard-test"
PROVISION_HINT = "run `scripts/provision` as root first (make test does)"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join([MANIFEST_V2, "application/vnd.oci.image.manifest.v1+json"])

SAMPLE_CONFIG = {
    "name": "sample-etl",
    "schedule-enabled": True,
    "schedule": "cron(0 14 * * ? *)",
    "parameters": {"env": "test"},
    "cloud-execution-environment": "docker",
    "memory": 512,
    "cpu": 256,
}
SAMPLE_WORKFLOW = '''from flowyard import flow, task


@task(retries=1)
def extract(day: str) -> list[int]:
    return [1, 2, 3]


@flow(name="sample-etl")
def etl(day: str = "2026-01-01"):
    return sum(extract(day))
'''
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace", "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(path: Path, *args: str) -> str:
    """Run git in `path` with a fixed identity; its stdout."""
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(path)}
    return subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_workflow_repo(
    path: Path, requirements: str | None = "six\n", config: dict | None = None, branch: str = "feature/etl",
    message: str = "Add the sample ETL workflow",
) -> Path:
    """A committed git repository with flowyard.json, workflow.py and (unless None) requirements.txt."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "flowyard.json").write_text(json.dumps(config or SAMPLE_CONFIG, indent=2) + "\n")
    (path / "workflow.py").write_text(SAMPLE_WORKFLOW)
    if requirements is not None:
        (path / "requirements.txt").write_text(requirements)
    (path / ".gitignore").write_text(".flowyard/\n")
    git(path, "init", "-q", "-b", branch)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", message)
    return path


def unique_ref(name: str, tag: str = "t1", registry: str | None = REGISTRY) -> str:
    """A test-only image reference that no other test or session uses."""
    repository = f"{TEST_REPOSITORY_PREFIX}/{name}-{uuid.uuid4().hex[:8]}"
    return f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}"


def registry_manifest(repository: str, reference: str, registry: str = REGISTRY) -> tuple[str, dict]:
    """The `Docker-Content-Digest` and the manifest the registry serves for repository:reference."""
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{reference}",
                                     headers={"Accept": MANIFEST_ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"], json.loads(answer.read())


def delete_from_registry(repository: str, digest: str, registry: str = REGISTRY) -> None:
    """Delete a manifest from the test registry (its blobs go at the registry's next garbage collection)."""
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{digest}", method="DELETE")
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.URLError:
        pass


def run_python(client, image: str, code: str) -> str:
    """`docker run --network host --rm --entrypoint python IMAGE -c CODE`; its output (raises on failure)."""
    output = client.containers.run(image, ["-c", code], entrypoint="python", network_mode="host", remove=True,
                                   stdout=True, stderr=True)
    return output.decode().strip()


@pytest.fixture(scope="session")
def docker_client():
    """A docker SDK client for the local engine; fails the test with the provisioning hint when it is down."""
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the Docker engine does not answer ({exc}): {PROVISION_HINT}", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def runtime_image(docker_client) -> str:
    """The runtime image workflow images are built FROM (flowyard/runtime:dev), which must exist."""
    import docker

    try:
        docker_client.images.get(RUNTIME_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the runtime image {RUNTIME_IMAGE} is missing: {PROVISION_HINT}", pytrace=False)
    return RUNTIME_IMAGE


@pytest.fixture(scope="session")
def registry() -> str:
    """The address of the test registry (127.0.0.1:5000), which must answer /v2/."""
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5).close()
    except (urllib.error.URLError, OSError) as exc:
        pytest.fail(f"no registry answers http://{REGISTRY}/v2/ ({exc}): {PROVISION_HINT}", pytrace=False)
    return REGISTRY


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory) -> Iterator[Path]:
    """One wheel cache for the session (FLOWYARD_CACHE_DIR), so rebuilds reuse the same wheel bytes."""
    cache = tmp_path_factory.mktemp("flowyard-cache")
    previous = os.environ.get("FLOWYARD_CACHE_DIR")
    os.environ["FLOWYARD_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("FLOWYARD_CACHE_DIR", None)
    else:
        os.environ["FLOWYARD_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def image_cleanup(docker_client) -> Iterator[list[str]]:
    """Append image references to the yielded list: they are removed (and their registry manifests) at the end."""
    import docker

    refs: list[str] = []
    yield refs
    for ref in refs:
        try:
            image = docker_client.images.get(ref)
        except docker.errors.ImageNotFound:
            continue
        for repo_digest in image.attrs.get("RepoDigests") or []:
            name, _, digest = repo_digest.partition("@")
            if name.startswith(f"{REGISTRY}/"):
                delete_from_registry(name.removeprefix(f"{REGISTRY}/"), digest)
        try:
            docker_client.images.remove(ref, force=True)
        except docker.errors.APIError:
            pass
