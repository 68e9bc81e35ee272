"""`flowyard schedule next EXPRESSION`: the next fire times of a schedule, as the scheduler will compute them."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from flowyard_builder import exit_codes
from flowyard_spec.schedules import UTC, ScheduleError, parse_expression, zone

DEFAULT_COUNT = 5
MAX_COUNT = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `schedule` command group and its `next` subcommand."""
    group = subparsers.add_parser("schedule", help="work with schedule expressions (cron, rate)",
                                  description="Work with schedule expressions.")
    group.set_defaults(handler=lambda args: _usage(group))
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


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.INVALID_INPUT


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
