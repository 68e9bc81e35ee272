"""The committed API docs (docs/api/openapi.yaml and reference.md) match what the generator produces."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
FIX = "The API docs are out of date: run `make docs` (.venv/bin/python scripts/gen_api_docs.py) and commit the result."


def load_generator() -> SimpleNamespace:
    """The api_docs package beside scripts/gen_api_docs.py (scripts/ is not on the path, so put it there to import)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        files = importlib.import_module("api_docs.files")
        generation = importlib.import_module("api_docs.generation")
        reference = importlib.import_module("api_docs.reference")
    finally:
        sys.path.remove(str(SCRIPTS))
    return SimpleNamespace(generate_schema=generation.generate_schema, setup_django=generation.setup_django,
                           expected_files=files.expected_files, REFERENCE_PATH=files.REFERENCE_PATH,
                           METHOD_ORDER=reference.METHOD_ORDER)


@pytest.fixture(scope="module")
def generator() -> SimpleNamespace:
    """The generator, with Django already set up by pytest-django."""
    module = load_generator()
    module.setup_django()
    return module


@pytest.fixture(scope="module")
def schema(generator) -> dict:
    """The schema as generated from the current code."""
    return generator.generate_schema()


@pytest.fixture(scope="module")
def expected(generator, schema) -> dict[Path, str]:
    """Path → content the generator would write now."""
    return generator.expected_files(schema)


@pytest.mark.parametrize("name", ["openapi.yaml", "reference.md"])
def test_committed_api_docs_are_in_sync(expected, name):
    """The committed file equals what `make docs` would write."""
    path = REPO / "docs" / "api" / name
    assert path in expected, f"the generator no longer writes {path.relative_to(REPO)}"
    assert path.exists(), f"{path.relative_to(REPO)} is missing. {FIX}"
    assert path.read_text(encoding="utf-8") == expected[path], f"{path.relative_to(REPO)} is out of date. {FIX}"


def test_every_api_path_is_in_the_reference(generator, schema, expected):
    """Every /api/v1/ path and operation of the schema is documented in reference.md."""
    reference = expected[generator.REFERENCE_PATH]
    api_paths = sorted(path for path in schema["paths"] if path.startswith("/api/v1/"))
    assert api_paths, "the schema has no /api/v1/ paths at all"
    missing = [
        f"{method.upper()} {path}"
        for path in api_paths
        for method in schema["paths"][path]
        if method in generator.METHOD_ORDER and f"`{method.upper()} {path}`" not in reference
    ]
    assert not missing, f"operations missing from reference.md: {missing}"
    committed = generator.REFERENCE_PATH.read_text(encoding="utf-8") if generator.REFERENCE_PATH.exists() else ""
    absent = [path for path in api_paths if path not in committed]
    assert not absent, f"paths missing from the committed reference.md: {absent}. {FIX}"


def test_generation_is_deterministic(generator, expected):
    """Generating twice gives identical files (sorted, no timestamps)."""
    assert generator.expected_files(generator.generate_schema()) == expected
