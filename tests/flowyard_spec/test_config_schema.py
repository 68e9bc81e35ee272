"""The committed JSON Schema of flowyard.json equals the one exported from WorkflowConfig, and it works."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "export_config_schema.py"
SCHEMA_PATH = REPO / "docs" / "schemas" / "flowyard.schema.json"
FIX = "run `.venv/bin/python scripts/export_config_schema.py` and commit docs/schemas/flowyard.schema.json"
TEAM_CONFIG = {
    "name": "my-workflow", "schedule-enabled": True, "schedule": "cron(0 14 * * ? *)",
    "parameters": {"env": "prod", "account": "12345678910"}, "cloud-execution-environment": "fargate",
    "memory": 4096, "cpu": 1024,
}


def load_exporter() -> ModuleType:
    """scripts/export_config_schema.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("flowyard_export_config_schema", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_schema_equals_the_exported_one():
    assert SCHEMA_PATH.exists(), f"{SCHEMA_PATH.relative_to(REPO)} is missing: {FIX}"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == load_exporter().schema_text(), f"the schema is out of date: {FIX}"


def test_the_export_is_deterministic_with_sorted_keys_and_a_trailing_newline():
    exporter = load_exporter()
    text = exporter.schema_text()
    assert text == exporter.schema_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_check_mode_passes_on_the_committed_file(capsys):
    assert load_exporter().main(["--check"]) == 0


def test_the_schema_accepts_the_teams_config_and_refuses_an_unknown_key():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(TEAM_CONFIG)) == []
    assert list(validator.iter_errors({**TEAM_CONFIG, "memory": "2Gi", "cpu": "0.5", "entrypoint": ["bash", "x.sh"],
                                       "environments": {"production": {"memory": 8192}}})) == []
    assert [error.validator for error in validator.iter_errors({**TEAM_CONFIG, "colour": "blue"})] == [
        "additionalProperties"]
    assert list(validator.iter_errors({**TEAM_CONFIG, "name": "Not A Slug"}))


def test_every_json_example_in_the_config_reference_is_a_valid_config():
    from flowyard_spec.config import parse_config

    reference = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    examples = [block.split("```", 1)[0] for block in reference.split("```json\n")[1:]]
    assert len(examples) >= 2
    for example in examples:
        parse_config(json.loads(example))
