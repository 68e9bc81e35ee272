"""Export the JSON Schema of flowyard.json (from `flowyard_spec.config.WorkflowConfig`) to docs/schemas/.

Usage: .venv/bin/python scripts/export_config_schema.py [--check]
With --check nothing is written; the exit status is 1 when the committed file is missing or out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flowyard_spec.config import WorkflowConfig

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO / "docs" / "schemas" / "flowyard.schema.json"
REGENERATE = ".venv/bin/python scripts/export_config_schema.py"


def schema_text() -> str:
    """The schema as it should be committed: sorted keys, two-space indent, trailing newline."""
    schema = WorkflowConfig.model_json_schema(by_alias=True)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/schemas/flowyard.schema.json, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")
    args = parser.parse_args(argv)
    expected = schema_text()
    current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else None
    if args.check:
        if current != expected:
            print(f"{SCHEMA_PATH.relative_to(REPO)} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{SCHEMA_PATH.relative_to(REPO)} is up to date")
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    if current != expected:
        SCHEMA_PATH.write_text(expected, encoding="utf-8")
        print(f"wrote {SCHEMA_PATH.relative_to(REPO)}")
    else:
        print(f"{SCHEMA_PATH.relative_to(REPO)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
