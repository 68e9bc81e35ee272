"""`flowyard schedule next EXPRESSION`: the next fire times of a schedule, as the scheduler will compute them;
`flowyard schedule show|pause|resume PROJECT/WORKFLOW --env ENV`: a deployment's schedule on the control plane."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.commands import show_group_usage
from flowyard_builder.api_client import MissingSettings, add_connection_options, client_from_args, report_error
from flowyard_builder.commands.trigger import parse_target
from flowyard_builder.control_plane import ControlPlaneError
from flowyard_spec.schedules import UTC, ScheduleError, parse_expression, zone

DEFAULT_COUNT = 5
MAX_COUNT = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `schedule` command group and its `next` subcommand."""
    group = subparsers.add_parser("schedule", help="work with schedule expressions (cron, rate)",
                                  description="Work with schedule expressions.")
    group.set_defaults(handler=lambda args: show_group_usage(group))
    commands = group.add_subparsers(dest="schedule_command", metavar="SUBCOMMAND")
    parser = commands.add_parser(
        "next", help="print the next fire times of a schedule expression",
        description="Print the next fire times of EXPRESSION, one per line, in ISO 8601 UTC. EXPRESSION is "
                    "cron(m h dom mon dow year) or rate(5 minutes) as in AWS EventBridge, or a 5-field cron.",
    )
    parser.add_argument("expression", nargs="+", metavar="EXPRESSION",
                        help='e.g. "cron(0 14 * * ? *)", "rate(5 minutes)" or "*/15 9-17 * * 1-5"')
    parser.add_argument("--timezone", default="UTC", help="IANA timezone the expression is evaluated in (default UTC)")
    parser.add_argument("--after", help="ISO 8601 instant to start after (default: now); without an offset it "
                                        "is read in --timezone")
    parser.add_argument("--count", default=str(DEFAULT_COUNT), help=f"how many times to print (default {DEFAULT_COUNT})")
    parser.set_defaults(handler=handle_next)
    for name, help_text in (
        ("show", "show a deployment's schedule: whether it fires, its policy and its next five ticks"),
        ("pause", "pause a deployment's schedule (manual, webhook and upstream runs still start)"),
        ("resume", "resume a paused schedule from now on (ticks missed while paused are not replayed)"),
    ):
        remote = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        remote.add_argument("target", metavar="PROJECT/WORKFLOW", help="the project's slug and the workflow's name")
        remote.add_argument("--env", required=True, metavar="ENV", help="the environment (e.g. production)")
        remote.add_argument("--json", action="store_true", help="print the schedule as JSON")
        add_connection_options(remote)
        remote.set_defaults(handler=handle_remote, action=name)



def _fail(message: str) -> int:
    print(f"flowyard schedule next: {message}", file=sys.stderr)
    return exit_codes.INVALID_INPUT


def handle_next(args: argparse.Namespace) -> int:
    """Print the next --count fire times of the expression."""
    expression = " ".join(args.expression)
    try:
        tz = zone(args.timezone)
        schedule = parse_expression(expression)
    except ScheduleError as exc:
        return _fail(str(exc))
    if not args.count.isdigit() or not 1 <= int(args.count) <= MAX_COUNT:
        return _fail(f"--count must be a whole number from 1 to {MAX_COUNT}, not {args.count!r}")
    if args.after is None:
        after = datetime.now(UTC)
    else:
        try:
            after = datetime.fromisoformat(args.after)
        except ValueError:
            return _fail(f"--after {args.after!r} is not an ISO 8601 date-time; use e.g. 2026-03-29T00:00:00Z")
        if after.tzinfo is None:
            after = after.replace(tzinfo=tz)
    times = schedule.next_fire_times(after, int(args.count), args.timezone)
    for moment in times:
        print(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if not times:
        print(f"flowyard schedule next: {expression} never fires after {after.isoformat()}", file=sys.stderr)
    return exit_codes.OK


def handle_remote(args: argparse.Namespace) -> int:
    """Show, pause or resume the schedule of PROJECT/WORKFLOW in --env."""
    command = f"flowyard schedule {args.action}"
    try:
        project_slug, workflow_name = parse_target(args.target)
    except ValueError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        client = client_from_args(args)
        deployment = client.deployment_of(project_slug, workflow_name, args.env)
        path = f"/schedules/{deployment['id']}/"
        schedule = client.get(path) if args.action == "show" else client.post(f"{path}{args.action}/")
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error(command, exc)
    print(json.dumps(schedule, indent=2) if args.json else describe_schedule(schedule, args.target))
    return exit_codes.OK


def describe_schedule(schedule: dict[str, Any], target: str) -> str:
    """A schedule as a few readable lines."""
    where = f"{target} in {schedule['environment_name']}"
    expression = schedule["expression"] or "(none)"
    lines = [f"schedule of {where}: {expression} ({schedule['timezone']})"]
    if schedule["active"]:
        lines.append("  active" + (", catch-up " + schedule["catch_up"]
                                   + (f" (at most {schedule['catch_up_max']})" if schedule["catch_up"] == "all" else "")))
    else:
        lines.append(f"  not active: {schedule['why_inactive']}")
    lines.append(f"  late after {schedule['start_deadline_seconds']} s without starting")
    if schedule["last_fired_for"]:
        lines.append(f"  last tick run: {schedule['last_fired_for']}")
    if schedule["skipped_total"]:
        last = schedule["last_skip"] or {}
        lines.append(f"  ticks skipped after downtime: {schedule['skipped_total']} (last: {last.get('count')} from "
                     f"{last.get('first')} to {last.get('last')})")
    if schedule["next_fire_times"]:
        lines.append("  next:")
        lines.extend(f"    {moment}" for moment in schedule["next_fire_times"])
    return "\n".join(lines)
