"""Generate docs/api/openapi.yaml and docs/api/reference.md from the control plane's OpenAPI schema.

Usage: .venv/bin/python scripts/gen_api_docs.py [--check]   (or `make docs`). With --check nothing is
written; the exit status is 1 when a file is missing or differs from what would be generated. The work is
done by the api_docs package next to this script.
"""

from __future__ import annotations

import argparse
import sys

from api_docs.files import REPO, expected_files, stale_files
from api_docs.generation import setup_django

REGENERATE = "make docs  (or: .venv/bin/python scripts/gen_api_docs.py)"


def main(argv: list[str] | None = None) -> int:
    """Write the API docs, or with --check report (exit 1) the files that are out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    setup_django()
    expected = expected_files()
    stale = stale_files(expected)
    if not stale:
        print("API docs are up to date.")
    for path in stale:
        if args.check:
            print(f"{path.relative_to(REPO)} is missing or out of date; regenerate it with: {REGENERATE}", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path], encoding="utf-8", newline="\n")
            print(f"wrote {path.relative_to(REPO)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
