"""Push an image to any OCI registry through the docker SDK and learn the digest the registry stored."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import docker
import docker.errors

from flowyard_builder.images.ecr import ecr_auth_config, ecr_registry
from flowyard_builder.images.errors import InvalidWorkflow, PushError
from flowyard_builder.images.reference import DIGEST, Reference, parse_reference


@dataclass(frozen=True)
class PushResult:
    """A pushed image: the tag reference, the manifest digest, and the reference pinned to that digest."""

    image_ref: str
    image_digest: str
    pinned_ref: str

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for --json output and .flowyard/last-push.json)."""
        return asdict(self)


class _PushLog:
    """Follows the push stream: prints layer outcomes (not byte progress), collects the digest."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.digest: str | None = None

    def feed(self, chunks: Iterable[dict[str, Any]]) -> None:
        """Consume the decoded push stream; raise PushError on the engine's error record."""
        for chunk in chunks:
            if "error" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                raise PushError(str(message).strip())
            aux = chunk.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                self.digest = aux["Digest"]
            status = chunk.get("status")
            if not status or chunk.get("progressDetail") or status in ("Waiting", "Pushing"):
                continue
            if self.digest is None and "digest:" in status and (match := DIGEST.search(status)):
                self.digest = match.group(0)
            prefix = f"{chunk['id']}: " if chunk.get("id") else ""
            self.out.write(f"push: {prefix}{status}\n")
            self.out.flush()


def _repo_digest(client: docker.DockerClient, reference: Reference) -> str | None:
    try:
        repo_digests = client.images.get(str(reference)).attrs.get("RepoDigests") or []
    except docker.errors.DockerException:
        return None
    for entry in repo_digests:
        name, _, digest = entry.partition("@")
        if name == reference.name and DIGEST.fullmatch(digest):
            return digest
    return None


def push_image(ref: str, client: docker.DockerClient, out: TextIO | None = None) -> PushResult:
    """Push `ref` to its registry (ECR credentials through boto3 when it is ECR); the stored digest."""
    out = out or sys.stderr
    reference = parse_reference(ref)
    if reference.host is None:
        raise InvalidWorkflow(
            f"{ref}: no registry host in the reference; tag the image for a registry, e.g. "
            f"127.0.0.1:5000/{reference.repository}:{reference.tag} (or set FLOWYARD_REGISTRY before `flowyard build`)"
        )
    auth_config = ecr_auth_config(reference.host) if ecr_registry(reference.host) else None
    try:
        client.images.get(str(reference))
    except docker.errors.ImageNotFound:
        raise PushError(f"{reference}: no such image on this engine; run `flowyard build` first") from None
    log = _PushLog(out)
    try:
        stream = client.api.push(reference.name, tag=reference.tag, stream=True, decode=True, auth_config=auth_config)
        log.feed(stream)
    except docker.errors.APIError as exc:
        raise PushError(str(exc.explanation or exc)) from None
    except docker.errors.DockerException as exc:
        raise PushError(f"the Docker engine failed during the push: {exc}") from None
    digest = log.digest or _repo_digest(client, reference)
    if not digest:
        raise PushError(f"{reference}: the push finished but no digest was reported")
    return PushResult(image_ref=str(reference), image_digest=digest, pinned_ref=f"{reference.name}@{digest}")
