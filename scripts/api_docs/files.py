"""The files `make docs` writes (docs/api/openapi.yaml and reference.md) and which of them are out of date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_docs.generation import generate_schema, render_openapi, tag_descriptions
from api_docs.reference import render_reference

REPO = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO / "docs" / "api" / "openapi.yaml"
REFERENCE_PATH = REPO / "docs" / "api" / "reference.md"


def expected_files(schema: dict[str, Any] | None = None) -> dict[Path, str]:
    """What docs/api/openapi.yaml and docs/api/reference.md should contain for `schema` (default: the current one)."""
    schema = generate_schema() if schema is None else schema
    return {OPENAPI_PATH: render_openapi(schema), REFERENCE_PATH: render_reference(schema, tag_descriptions(schema))}


def stale_files(expected: dict[Path, str]) -> list[Path]:
    """The files that are missing or differ from the expected content."""
    return [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
