"""`flowyard validate [PATH] [--json]`: check a workflow repository before it is built."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flowyard_builder import exit_codes
from flowyard_builder.config_files import validate_repository


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `validate` command."""
    parser = subparsers.add_parser(
        "validate", help="check flowyard.json, the entrypoint and the parameters of a workflow repository",
        description="Check PATH/flowyard.json, that the entrypoint imports and is a @flow (or that a command's "
                    "program exists), and that declared parameters match the flow's signature. "
                    "Exit 0 when valid, 1 when not.",
    )
    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the repository (default: .)")
    parser.add_argument("--json", action="store_true", help="print {ok, errors, warnings, config} as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Validate the repository at args.path and report every problem."""
    repo = Path(args.path).resolve()
    result = validate_repository(repo)
    if args.json:
        print(json.dumps({
            "ok": result.ok,
            "errors": [problem.as_dict() for problem in result.errors],
            "warnings": [problem.as_dict() for problem in result.warnings],
            "config": result.config.model_dump(by_alias=True, mode="json") if result.config else None,
        }, indent=2))
    else:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        if result.ok:
            assert result.config is not None
            what = (f"flow {result.flow['flow_name']!r} ({result.flow['function']} in {result.flow['file']})"
                    if result.flow else f"command {result.config.entrypoint!r}")
            print(f"{repo / 'flowyard.json'} is valid: workflow {result.config.name!r} runs {what}")
        else:
            count = len(result.errors)
            print(f"{repo}: {count} problem{'s' if count != 1 else ''} to fix", file=sys.stderr)
    return exit_codes.OK if result.ok else exit_codes.INVALID_INPUT
