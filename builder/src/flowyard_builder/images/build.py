"""Build a workflow image FROM the runtime image with the docker SDK, streaming the build log as it goes."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import docker
import docker.errors

from flowyard_builder.images import context, dependencies
from flowyard_builder.images.errors import BuildError, EngineUnavailable, InvalidWorkflow
from flowyard_builder.images.git_metadata import GitMetadata, read_git_metadata
from flowyard_builder.images.workflow import default_tag, image_labels, load_raw_config

RUNTIME_IMAGE_ENV = "FLOWYARD_RUNTIME_IMAGE"
DEFAULT_RUNTIME_IMAGE = "flowyard/runtime:dev"
BUILD_TIMEOUT_SECONDS = 3600
USING_CACHE = "Using cache"


@dataclass
class BuildResult:
    """A built workflow image: its id, tag and labels, and how many Dockerfile steps came from the cache."""

    image_id: str
    tag: str
    labels: dict[str, str]
    steps: int = 0
    cached_steps: int = 0
    git: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The --json output: image_id, tag, labels."""
        return {"image_id": self.image_id, "tag": self.tag, "labels": self.labels}

    def as_dict(self) -> dict[str, Any]:
        """Everything, for .flowyard/last-build.json."""
        return asdict(self)


def default_runtime_image() -> str:
    """The runtime image workflow images start FROM: $FLOWYARD_RUNTIME_IMAGE or flowyard/runtime:dev."""
    return os.environ.get(RUNTIME_IMAGE_ENV) or DEFAULT_RUNTIME_IMAGE


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A docker SDK client that has answered a ping, or EngineUnavailable saying how to start the engine."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(
            f"the Docker engine does not answer ({exc}); start dockerd "
            "(on Flowyard's test machines: run scripts/provision as root)"
        ) from None
    return client


class _BuildLog:
    """Follows the build stream: prints it, remembers the current step, the image id and cache hits."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step: str | None = None
        self.steps = 0
        self.cached_steps = 0
        self.image_id: str | None = None
        self.tail: list[str] = []

    def feed(self, chunks: Iterable[dict[str, Any]]) -> None:
        """Consume the decoded build stream; raise BuildError on the engine's error record."""
        for chunk in chunks:
            if "error" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                self.out.write(f"ERROR: {message}\n")
                raise BuildError(message.strip(), step=self.step, log_tail=self.tail)
            if "aux" in chunk and isinstance(chunk["aux"], dict) and chunk["aux"].get("ID"):
                self.image_id = chunk["aux"]["ID"]
            text = chunk.get("stream")
            if not text:
                continue
            self.out.write(text)
            self.out.flush()
            for line in text.splitlines():
                self._line(line.strip())

    def _line(self, line: str) -> None:
        if not line:
            return
        self.tail = (self.tail + [line])[-20:]
        if line.startswith("Step ") and " : " in line:
            self.step, self.steps = line, self.steps + 1
        elif USING_CACHE in line:
            self.cached_steps += 1
        elif line.startswith("Successfully built ") and not self.image_id:
            self.image_id = line.split()[-1]


def _check_base(client: docker.DockerClient, base: str) -> None:
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        hint = " (build it with scripts/provision)" if base.startswith("flowyard/runtime:") else ""
        raise BuildError(f"the base image {base} is not on this engine{hint}; builds never pull it") from None


def build_image(
    path: str | os.PathLike[str],
    tag: str | None = None,
    base: str | None = None,
    client: docker.DockerClient | None = None,
    out: TextIO | None = None,
    refresh_dependencies: bool = False,
    python_version: str | None = None,
    git: GitMetadata | None = None,
) -> BuildResult:
    """Build the workflow at `path` into an image FROM the runtime image; progress goes to `out` (stderr)."""
    out = out or sys.stderr
    root = Path(path)
    if not root.is_dir():
        raise InvalidWorkflow(f"{root}: not a directory")
    config = load_raw_config(root)
    git = git or read_git_metadata(root)
    labels = image_labels(config, git)
    tag = tag or default_tag(config, git)
    base = base or default_runtime_image()
    client = client or docker_client()
    _check_base(client, base)
    with tempfile.TemporaryDirectory(prefix="flowyard-build-") as tmp:
        build_dir = Path(tmp)
        target = dependencies.Target(python_version or dependencies.Target.python_version)
        pins = dependencies.prepare_wheels(root, build_dir / context.DEPS_DIR, target, out, refresh_dependencies)
        copied = context.copy_workflow(root, build_dir / context.CODE_DIR)
        (build_dir / "Dockerfile").write_text(context.render_dockerfile(base, bool(pins), labels))
        out.write(f"build: {tag} FROM {base}: {len(pins or [])} dependencies, {len(copied)} files of code\n")
        log = _BuildLog(out)
        try:
            stream = client.api.build(
                path=str(build_dir), dockerfile="Dockerfile", tag=tag, rm=True, forcerm=True,
                pull=False, network_mode="none", decode=True, timeout=BUILD_TIMEOUT_SECONDS,
            )
            log.feed(stream)
        except docker.errors.APIError as exc:
            raise BuildError(str(exc.explanation or exc), step=log.step, log_tail=log.tail) from None
        except docker.errors.DockerException as exc:
            raise BuildError(f"the Docker engine failed during the build: {exc}", step=log.step) from None
    if not log.image_id:
        raise BuildError("the engine reported no image id", step=log.step, log_tail=log.tail)
    image_id = client.images.get(tag).id
    return BuildResult(image_id=image_id, tag=tag, labels=labels, steps=log.steps, cached_steps=log.cached_steps,
                       git=git.as_dict())
