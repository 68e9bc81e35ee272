"""What the last `flowyard build`, `push` and `ci` registration produced, kept in PATH/.flowyard/ for the next
command (or the next CI job, as an artifact)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_DIR = ".flowyard"
LAST_BUILD = "last-build.json"
LAST_PUSH = "last-push.json"
LAST_REGISTRATION = "last-registration.json"


def save_result(path: str | os.PathLike[str], name: str, data: dict[str, Any]) -> Path:
    """Write `data` as PATH/.flowyard/<name> atomically; the file's path."""
    directory = Path(path) / STATE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(target)
    return target


def load_result(path: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    """The object in PATH/.flowyard/<name>, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(path) / STATE_DIR / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
