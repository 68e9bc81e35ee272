"""`flowyard trigger PROJECT/WORKFLOW --env ENV [--param k=v ...]`: start a run of a deployment, optionally follow it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import (
    MissingSettings,
    add_connection_options,
    client_from_args,
    report_error,
    state_exit_code,
)
from flowyard_builder.commands.runs import INTERRUPTED, add_follow_options
from flowyard_builder.control_plane import ControlPlaneError
from flowyard_builder.follow import describe_end, follow_logs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `trigger` command."""
    parser = subparsers.add_parser(
        "trigger",
        help="start a run of a deployed workflow",
        description="Start a run of the version of PROJECT/WORKFLOW deployed to ENV with your personal token, and "
                    "print its id and state. Parameters override the declared ones; the control plane refuses "
                    "names the workflow does not declare. With --follow, stream the run's log until it ends and "
                    "exit 0 if it SUCCEEDED, else 1.",
        epilog="Exit codes: 0 ok (with --follow: the run SUCCEEDED), 1 invalid input, a name not found or (with "
               "--follow) the run did not succeed, 3 the control plane refused or is unreachable.",
    )
    parser.add_argument("target", metavar="PROJECT/WORKFLOW", help="the project's slug and the workflow's name")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment to run in (e.g. test, production)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help='a parameter (repeatable); VALUE is read as JSON when it parses (10, true, {"a": 1}, '
                             '"10" for the string), else taken as a string')
    parser.add_argument("--params-json", metavar="JSON", help="parameters as a JSON object; --param overrides its keys")
    add_follow_options(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the run as JSON on stdout (with --follow: the ended run, the log going to stderr)")
    add_connection_options(parser)
    parser.set_defaults(handler=handle)


def parse_value(text: str) -> Any:
    """A --param value: its JSON meaning when it parses as JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_parameters(pairs: Sequence[str], params_json: str | None) -> dict[str, Any]:
    """--params-json overridden by each --param KEY=VALUE; ValueError says what is wrong."""
    parameters: dict[str, Any] = {}
    if params_json:
        try:
            parameters = json.loads(params_json)
        except ValueError as exc:
            raise ValueError(f"--params-json is not valid JSON: {exc}") from None
        if not isinstance(parameters, dict):
            raise ValueError('--params-json must be a JSON object, e.g. {"day": "2026-01-01"}')
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param {pair!r} is not KEY=VALUE")
        parameters[key.strip()] = parse_value(value)
    return parameters


def parse_target(target: str) -> tuple[str, str]:
    """PROJECT/WORKFLOW as (project slug, workflow name); ValueError otherwise."""
    project, sep, workflow = target.partition("/")
    if not sep or not project or not workflow or "/" in workflow:
        raise ValueError(f"{target!r} is not PROJECT/WORKFLOW (e.g. analytics/etl)")
    return project, workflow


def handle(args: argparse.Namespace) -> int:
    """Resolve the deployment, start the run, and print it (or follow it to its end)."""
    try:
        project_slug, workflow_name = parse_target(args.target)
        parameters = parse_parameters(args.param, args.params_json)
        if args.poll_interval <= 0:
            raise ValueError("--poll-interval must be more than 0")
    except ValueError as exc:
        print(f"flowyard trigger: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        client = client_from_args(args)
        deployment = client.deployment_of(project_slug, workflow_name, args.env)
        run = client.post("/runs/", {"deployment": deployment["id"], "parameters": parameters})
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard trigger", exc)
    where = f"{project_slug}/{workflow_name} in {deployment['environment_name']}"
    if not args.follow:
        if args.json:
            print(json.dumps(run, indent=2))
        else:
            print(f"triggered run {run['id']} of {where}: {run['state']}")
        return exit_codes.OK
    print(f"triggered run {run['id']} of {where}: {run['state']}", file=sys.stderr if args.json else sys.stdout,
          flush=True)
    try:
        follow_logs(client, run["id"], follow=True, poll_interval=args.poll_interval,
                    out=sys.stderr if args.json else sys.stdout)
        run = client.run(run["id"])
    except ControlPlaneError as exc:
        return report_error("flowyard trigger", exc)
    except KeyboardInterrupt:
        print(f"\nstopped following; run {run['id']} goes on (`flowyard runs cancel {run['id']}` stops it)",
              file=sys.stderr)
        return INTERRUPTED
    if args.json:
        print(json.dumps(run, indent=2))
    print(describe_end(run), file=sys.stderr)
    return state_exit_code(run["state"])
