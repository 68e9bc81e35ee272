"""Image references: `[host[:port]/]repository[:tag]` split into parts, and what a digest looks like."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowyard_builder.images.errors import InvalidWorkflow

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    """An image reference split into registry host, repository path and tag."""

    host: str | None
    repository: str
    tag: str

    @property
    def name(self) -> str:
        """host/repository (the name a registry and `docker push` know the image by)."""
        return f"{self.host}/{self.repository}" if self.host else self.repository

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}"


def parse_reference(ref: str) -> Reference:
    """Split `[host[:port]/]repo/path[:tag]` (tag defaults to latest); digest references are refused."""
    if "@" in ref:
        raise InvalidWorkflow(f"{ref}: give a tag, not a digest reference")
    name, tag = ref, "latest"
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail:  # a colon after the last slash separates the tag (not a host's port)
        name, tag = head, tail
    if not name or not tag or name != name.lower():
        raise InvalidWorkflow(f"{ref}: not a valid image reference (lowercase [host[:port]/]name[:tag])")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return Reference(first, rest, tag)
    return Reference(None, name, tag)
