"""`flowyard backfill PROJECT/WORKFLOW --env ENV --start ... --end ...`: run a schedule's past ticks; status; cancel."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import ApiClient, MissingSettings, add_connection_options, client_from_args, report_error
from flowyard_builder.commands.runs import INTERRUPTED
from flowyard_builder.commands.trigger import parse_parameters, parse_target
from flowyard_builder.control_plane import ControlPlaneError

DEFAULT_POLL_INTERVAL = 2.0
REPROCESS = ("none", "failed", "all")
USAGE = """
  flowyard backfill PROJECT/WORKFLOW --env ENV --start WHEN --end WHEN [--max-active N]
                    [--reprocess {none,failed,all}] [--param KEY=VALUE ...] [--follow] [--json]
  flowyard backfill status BACKFILL_ID [--follow] [--json]
  flowyard backfill cancel BACKFILL_ID [--json]"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `backfill` command: start a backfill, show one (`status`), cancel one (`cancel`)."""
    parser = subparsers.add_parser(
        "backfill",
        help="run a workflow's schedule for a past range, show a backfill's progress, cancel it",
        usage=USAGE,
        description="Start a backfill: one run of the version of PROJECT/WORKFLOW deployed to ENV for each tick of "
                    "its schedule between --start and --end (both inclusive; the schedule may be disabled or "
                    "paused), at most --max-active at a time. Ticks that already have a run are skipped unless "
                    "--reprocess says otherwise. WHEN is ISO 8601: a date alone (2026-01-05) is midnight UTC, a "
                    "time without an offset is UTC (2026-01-05T06:00), an offset is honoured (2026-01-05T06:00+01:00). "
                    "`status` prints a backfill's progress, `cancel` stops it as a whole.",
        epilog="Exit codes: 0 ok (with --follow: every tick succeeded or was skipped), 1 invalid input, a name not "
               "found or (with --follow) a tick failed or the backfill was cancelled, 3 the control plane refused "
               "or is unreachable.",
    )
    parser.add_argument("target", metavar="PROJECT/WORKFLOW | status | cancel",
                        help="the project's slug and the workflow's name, or `status`/`cancel` followed by an id")
    parser.add_argument("backfill_id", nargs="?", metavar="BACKFILL_ID", help="with status or cancel: the backfill")
    parser.add_argument("--env", metavar="ENV", help="the environment whose deployment is backfilled (e.g. production)")
    parser.add_argument("--start", metavar="WHEN", help="first instant of the range, inclusive")
    parser.add_argument("--end", metavar="WHEN", help="last instant of the range, inclusive (not in the future)")
    parser.add_argument("--max-active", type=int, default=1, metavar="N",
                        help="at most N runs of the backfill at a time (1-50, default 1)")
    parser.add_argument("--reprocess", choices=REPROCESS, default="none",
                        help="ticks that already have a run: none skips them all (default), failed runs again those "
                             "with no successful run, all runs every tick again (never one with a run in flight)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for every run (repeatable); VALUE is read as JSON when it parses")
    parser.add_argument("--params-json", metavar="JSON", help="parameters as a JSON object; --param overrides its keys")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="print progress until the backfill ends; exit 0 if no tick failed, else 1")
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, metavar="SECONDS",
                        help=f"while following, seconds between progress checks (default {DEFAULT_POLL_INTERVAL})")
    parser.add_argument("--json", action="store_true", help="print the backfill as JSON (with --follow: once it ended)")
    add_connection_options(parser)
    parser.set_defaults(handler=handle)


def check_when(option: str, value: str | None) -> str:
    """An ISO 8601 date or date-time as given; ValueError naming the option otherwise."""
    if not value:
        raise ValueError(f"{option} is required (ISO 8601, e.g. 2026-01-05 or 2026-01-05T06:00Z)")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{option} {value!r} is not an ISO 8601 date or date-time (e.g. 2026-01-05T06:00Z)") from None
    return value


def check_backfill_id(value: str | None, command: str) -> str:
    """The backfill id in canonical form; ValueError when missing or not a UUID."""
    if not value:
        raise ValueError(f"`flowyard backfill {command}` needs a BACKFILL_ID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a backfill id (a UUID, as printed when the backfill started)") from None


def describe(backfill: dict[str, Any]) -> str:
    """One line: the backfill's state and how far it is."""
    progress = backfill["progress"]
    line = (f"backfill {backfill['id']}: {backfill['state']}, {progress['handled_ticks']}/{progress['total_ticks']} "
            f"ticks handled ({progress['skipped_ticks']} skipped), {progress['succeeded_ticks']} succeeded, "
            f"{progress['failed_ticks']} failed, {progress['live_runs']} running")
    if backfill.get("blocked_reason"):
        line += f"; blocked: {backfill['blocked_reason']}"
    return line


def follow_exit_code(backfill: dict[str, Any]) -> int:
    """0 for a backfill that completed with no failed tick, else 1."""
    ok = backfill["state"] == "COMPLETED" and backfill["progress"]["failed_ticks"] == 0
    return exit_codes.OK if ok else exit_codes.INVALID_INPUT


def follow(client: ApiClient, backfill: dict[str, Any], poll_interval: float, out) -> dict[str, Any]:
    """Print a progress line each time it changes, until the backfill is no longer RUNNING; returns it then."""
    last = describe(backfill)
    while backfill["state"] == "RUNNING":
        time.sleep(poll_interval)
        backfill = client.get(f"/backfills/{backfill['id']}/")
        line = describe(backfill)
        if line != last:
            print(line, file=out, flush=True)
            last = line
    return backfill


def handle(args: argparse.Namespace) -> int:
    """Start, show or cancel a backfill."""
    command = args.target if args.target in ("status", "cancel") else "start"
    try:
        if args.poll_interval <= 0:
            raise ValueError("--poll-interval must be more than 0")
        if command != "start":
            backfill_id = check_backfill_id(args.backfill_id, command)
        else:
            if args.backfill_id:
                raise ValueError(f"unexpected argument {args.backfill_id!r} (use --start/--end for the range)")
            project_slug, workflow_name = parse_target(args.target)
            if not args.env:
                raise ValueError("--env is required (the environment to backfill, e.g. production)")
            payload = {"start": check_when("--start", args.start), "end": check_when("--end", args.end),
                       "max_active": args.max_active, "reprocess": args.reprocess,
                       "parameters": parse_parameters(args.param, args.params_json)}
    except ValueError as exc:
        print(f"flowyard backfill: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    out = sys.stderr if args.json else sys.stdout
    try:
        client = client_from_args(args)
        if command == "status":
            backfill = client.get(f"/backfills/{backfill_id}/")
        elif command == "cancel":
            backfill = client.post(f"/backfills/{backfill_id}/cancel/")
        else:
            deployment = client.deployment_of(project_slug, workflow_name, args.env)
            backfill = client.post("/backfills/", {"deployment": deployment["id"], **payload})
            where = f"{project_slug}/{workflow_name} in {deployment['environment_name']}"
            print(f"started backfill {backfill['id']} of {where}: {backfill['progress']['total_ticks']} ticks from "
                  f"{backfill['start']} to {backfill['end']}, at most {backfill['max_active']} at a time "
                  f"(reprocess {backfill['reprocess']})", file=out, flush=True)
            backfill = client.get(f"/backfills/{backfill['id']}/")  # its first runs start once it is stored
        if command != "start" or not args.follow:
            print(describe(backfill), file=out, flush=True)
        if args.follow and command != "cancel":
            backfill = follow(client, backfill, args.poll_interval, out)
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error(f"flowyard backfill {command}", exc)
    except KeyboardInterrupt:
        print("\nstopped following; the backfill goes on "
              f"(`flowyard backfill cancel {backfill['id']}` stops it)", file=sys.stderr)
        return INTERRUPTED
    if args.json:
        print(json.dumps(backfill, indent=2))
    if args.follow and command != "cancel":
        print(describe(backfill), file=out)
        return follow_exit_code(backfill)
    return exit_codes.OK
