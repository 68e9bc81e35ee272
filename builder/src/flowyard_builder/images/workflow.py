"""A workflow directory as the image builder sees it: its raw flowyard.json, image labels and default tag."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowyard_builder.images.errors import InvalidWorkflow
from pydantic import ValidationError

from flowyard_spec.config import config_errors, config_hash, parse_config

if TYPE_CHECKING:
    from flowyard_builder.images.git_metadata import GitMetadata

CONFIG_FILE = "flowyard.json"
LABEL_PREFIX = "org.flowyard."
REGISTRY_ENV = "FLOWYARD_REGISTRY"


def load_raw_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in PATH/flowyard.json, as written, once the config schema has accepted it."""
    config_path = Path(path) / CONFIG_FILE
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidWorkflow(f"{config_path}: not found; a workflow repository has flowyard.json at its root") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidWorkflow(f"{config_path}: not readable JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidWorkflow(f"{config_path}: must hold a JSON object")
    try:
        parse_config(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in config_errors(exc).items())
        raise InvalidWorkflow(f"{config_path}: {problems} (run `flowyard validate` for the details)") from None
    return raw


def image_labels(config: dict[str, Any], git: GitMetadata) -> dict[str, str]:
    """The `org.flowyard.*` labels of a workflow image; git fields that are unknown are left out."""
    labels = {
        "workflow": config["name"],
        "config-hash": config_hash(config),  # flowyard_spec's: the control plane records the same
        "repository": git.repository,
        "commit": git.commit_sha,
        "branch": git.branch,
    }
    return {LABEL_PREFIX + key: value for key, value in labels.items() if value}


def image_name(workflow: str) -> str:
    """A valid image repository component from a workflow name (lowercase, [a-z0-9._-])."""
    name = re.sub(r"[^a-z0-9._-]+", "-", workflow.lower()).strip("._-")
    return name or "workflow"


def default_tag(config: dict[str, Any], git: GitMetadata, registry: str | None = None) -> str:
    """`[REGISTRY/]flowyard/<workflow>:<commit12>[-dirty]`; REGISTRY from env FLOWYARD_REGISTRY."""
    registry = registry if registry is not None else os.environ.get(REGISTRY_ENV, "")
    version = git.commit_sha[:12] if git.commit_sha else "latest"
    if git.commit_sha and git.dirty:
        version += "-dirty"
    repository = f"flowyard/{image_name(config['name'])}"
    return f"{registry.rstrip('/')}/{repository}:{version}" if registry else f"{repository}:{version}"
