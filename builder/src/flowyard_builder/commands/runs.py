"""`flowyard runs list/show/logs/cancel`: look at runs, read or follow their logs, cancel them (personal token)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.commands import show_group_usage
from flowyard_builder.api_client import (
    MissingSettings,
    add_connection_options,
    client_from_args,
    format_duration,
    is_terminal,
    local_time,
    parse_time,
    report_error,
    state_exit_code,
)
from flowyard_builder.control_plane import ControlPlaneError
from flowyard_builder.follow import (
    DEFAULT_POLL_INTERVAL,
    describe_end,
    follow_logs,
)
from flowyard_spec.states import RunState, TriggerKind

DEFAULT_LIST_LIMIT = 20
INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `runs` command group: list, show, logs, cancel."""
    group = subparsers.add_parser("runs", help="list runs, show one, read or follow its log, cancel it",
                                  description="Look at runs with your personal token: list, show, logs, cancel.")
    group.set_defaults(handler=lambda args: show_group_usage(group))
    commands = group.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")

    parser = commands.add_parser(
        "list", help="the latest runs, newest first",
        description="List runs newest first: id, workflow, environment, state, reason, created, duration.")
    parser.add_argument("target", nargs="?", metavar="PROJECT[/WORKFLOW]", help="only this project's (or workflow's) runs")
    parser.add_argument("--env", metavar="ENV", help="only runs in this environment (e.g. test, production)")
    parser.add_argument("--state", action="extend", nargs="+", default=[], metavar="STATE",
                        help="only runs in these states (repeatable or comma-separated, e.g. FAILED,CRASHED)")
    parser.add_argument("--trigger", choices=[kind.value for kind in TriggerKind],
                        help="only runs started this way (e.g. schedule, webhook, upstream, backfill)")
    parser.add_argument("--late", action="store_true", help="only scheduled runs marked late")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT, metavar="N",
                        help=f"at most N runs (default {DEFAULT_LIST_LIMIT})")
    parser.add_argument("--json", action="store_true", help="print the runs as a JSON array")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_list)

    parser = commands.add_parser("show", help="one run and its tasks", description="Show a run and its task runs.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--json", action="store_true", help='print the run as JSON, with its task runs under "tasks"')
    add_connection_options(parser)
    parser.set_defaults(handler=handle_show)

    parser = commands.add_parser(
        "logs", help="print a run's log, or follow it to the end",
        description="Print a run's log lines as `HH:MM:SS [task] message` (local time; stderr lines go to stderr). "
                    "With --follow, keep printing new lines until the run has ended and every line is shown, "
                    "then exit 0 if it SUCCEEDED, else 1.")
    parser.add_argument("run_id", metavar="RUN_ID")
    add_follow_options(parser)
    parser.add_argument("--after", type=int, default=0, metavar="N", help="start after log line number N (default 0)")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_logs)

    parser = commands.add_parser("cancel", help="cancel a run", description="Cancel a run and print its new state: "
                                 "CANCELLED at once if it was not launched yet, else CANCELLING until it stops.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_cancel)


def add_follow_options(parser: argparse.ArgumentParser) -> None:
    """Add --follow and --poll-interval to a command."""
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new lines until the run ends; exit 0 if it SUCCEEDED, else 1")
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, metavar="SECONDS",
                        help="while following, the pause before asking again when the control plane answers at once "
                             f"with nothing new (it normally holds the request until a line comes; default "
                             f"{DEFAULT_POLL_INTERVAL})")



def _fail(command: str, message: str) -> int:
    print(f"flowyard runs {command}: {message}", file=sys.stderr)
    return exit_codes.INVALID_INPUT


def check_run_id(value: str) -> str:
    """The run id in canonical form; ValueError when it is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a run id (a UUID such as 3f2b…-…; see `flowyard runs list`)") from None


# -- logs ---------------------------------------------------------------------------------------------------

def handle_logs(args: argparse.Namespace) -> int:
    """Print (or follow) a run's log; with --follow exit by the run's terminal state."""
    try:
        run_id = check_run_id(args.run_id)
    except ValueError as exc:
        return _fail("logs", str(exc))
    if args.after < 0 or args.poll_interval <= 0:
        return _fail("logs", "--after must be 0 or more and --poll-interval more than 0")
    try:
        client = client_from_args(args)
        _, state = follow_logs(client, run_id, after=args.after, follow=args.follow, poll_interval=args.poll_interval)
        if not args.follow:
            return exit_codes.OK
        run = client.run(run_id)
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard runs logs", exc)
    except KeyboardInterrupt:
        print(f"\nstopped following; run {run_id} goes on (`flowyard runs cancel {run_id}` stops it)", file=sys.stderr)
        return INTERRUPTED
    print(describe_end(run), file=sys.stderr)
    return state_exit_code(run["state"] if is_terminal(run["state"]) else state)


# -- list -----------------------------------------------------------------------------------------------------

def parse_states(values: Sequence[str]) -> list[str]:
    """Run states from --state values (repeatable, comma-separated, any case); ValueError naming an unknown one."""
    states = [part.strip().upper() for value in values for part in value.split(",") if part.strip()]
    unknown = [state for state in states if state not in RunState.__members__]
    if unknown:
        raise ValueError(f"unknown state {', '.join(unknown)}; use one of {', '.join(RunState)}")
    return states


def run_duration(run: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds from start to end (to now while it runs); None before it started."""
    started = parse_time(run.get("started_at"))
    if started is None:
        return None
    ended = parse_time(run.get("ended_at")) or now or datetime.now(timezone.utc)
    return max((ended - started).total_seconds(), 0.0)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in (headers, *rows))


def handle_list(args: argparse.Namespace) -> int:
    """Print the latest runs, filtered by project, workflow, environment and state."""
    try:
        states = parse_states(args.state)
    except ValueError as exc:
        return _fail("list", str(exc))
    if args.limit < 1:
        return _fail("list", "--limit must be 1 or more")
    project_slug, _, workflow_name = (args.target or "").partition("/")
    if args.target and (not project_slug or "/" in workflow_name or (args.target.endswith("/") and not workflow_name)):
        return _fail("list", f"{args.target!r} is not PROJECT or PROJECT/WORKFLOW")
    try:
        client = client_from_args(args)
        query: list[tuple[str, Any]] = [("environment_name", args.env), ("trigger", args.trigger),
                                         ("late", "true" if args.late else None)]
        slugs: dict[str, str] = {}
        if project_slug:
            project = client.project(project_slug)
            slugs[project["id"]] = project["slug"]
            query.append(("project", project["id"]))
            if workflow_name:
                query.append(("workflow", client.workflow(project, workflow_name)["id"]))
        query += [("state", state) for state in states]
        runs = list(client.iterate("/runs/", query, limit=args.limit))
        if not project_slug and runs:
            slugs = {project["id"]: project["slug"] for project in client.iterate("/projects/")}
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard runs list", exc)
    if args.json:
        print(json.dumps(runs, indent=2))
        return exit_codes.OK
    if not runs:
        print("no runs", file=sys.stderr)
        return exit_codes.OK
    now = datetime.now(timezone.utc)
    rows = [
        (run["id"], f"{slugs.get(run['project'], '?')}/{run['workflow_name']}", run["environment_name"], run["state"],
         run.get("reason") or "-", local_time(run.get("created_at")), format_duration(run_duration(run, now)))
        for run in runs
    ]
    print(format_table(("ID", "WORKFLOW", "ENV", "STATE", "REASON", "CREATED", "DURATION"), rows))
    return exit_codes.OK


# -- show -----------------------------------------------------------------------------------------------------

def _summary_line(text: str, width: int = 60) -> str:
    line = (text or "").strip().splitlines()[-1:] or ["-"]  # a traceback's last line says what went wrong
    return line[0] if len(line[0]) <= width else line[0][: width - 1] + "…"


def describe_run(run: dict[str, Any], project_slug: str, tasks: Sequence[dict[str, Any]]) -> str:
    """A run as `field  value` lines followed by its task table."""
    memory = run.get("peak_memory_bytes")
    fields = [
        ("run", run["id"]),
        ("workflow", f"{project_slug}/{run['workflow_name']}"),
        ("environment", run["environment_name"]),
        ("state", run["state"] + (f" ({run['reason']})" if run.get("reason") else "")),
        ("message", run.get("message") or "-"),
        ("trigger", run["trigger"] + (f" by {run['triggered_by_label']}" if run.get("triggered_by_label") else "")),
        ("parameters", json.dumps(run.get("parameters") or {}, sort_keys=True)),
        ("version", run.get("version") or "-"),
        ("attempt", str(run.get("attempt", 1)) + (f" (retry of {run['retry_of']})" if run.get("retry_of") else "")),
        ("created", local_time(run.get("created_at"))),
        ("started", local_time(run.get("started_at"))),
        ("ended", local_time(run.get("ended_at"))),
        ("duration", format_duration(run_duration(run))),
        ("exit code", "-" if run.get("exit_code") is None else str(run["exit_code"])),
        ("peak memory", "-" if memory is None else f"{memory / 2**20:.1f} MiB"),
        ("cpu time", "-" if run.get("cpu_seconds") is None else f"{run['cpu_seconds']:.2f} s"),
    ]
    width = max(len(name) for name, _ in fields)
    text = "\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)
    if not tasks:
        return text + "\n\nno task runs"
    rows = [
        (task["task_key"], task["name"], task["state"], str(task.get("attempt", 1)), local_time(task.get("started_at")),
         format_duration(run_duration(task)), _summary_line(task.get("error", "")) if task.get("error") else "-")
        for task in tasks
    ]
    return text + "\n\n" + format_table(("TASK", "NAME", "STATE", "ATTEMPT", "STARTED", "DURATION", "ERROR"), rows)


def handle_show(args: argparse.Namespace) -> int:
    """Print a run and its task runs."""
    try:
        run_id = check_run_id(args.run_id)
    except ValueError as exc:
        return _fail("show", str(exc))
    try:
        client = client_from_args(args)
        run = client.run(run_id)
        tasks = client.get(f"/runs/{run_id}/tasks/")
        if args.json:
            print(json.dumps({**run, "tasks": tasks}, indent=2))
            return exit_codes.OK
        slug = client.get(f"/projects/{run['project']}/").get("slug", run["project"])
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard runs show", exc)
    print(describe_run(run, slug, tasks))
    return exit_codes.OK


# -- cancel ---------------------------------------------------------------------------------------------------

def handle_cancel(args: argparse.Namespace) -> int:
    """Cancel a run and print its new state."""
    try:
        run_id = check_run_id(args.run_id)
    except ValueError as exc:
        return _fail("cancel", str(exc))
    try:
        run = client_from_args(args).post(f"/runs/{run_id}/cancel/")
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard runs cancel", exc)
    if args.json:
        print(json.dumps(run, indent=2))
    elif run["state"] == RunState.CANCELLING:
        print(f"run {run['id']} CANCELLING: the runtime is stopping it (`flowyard runs logs {run['id']} --follow`)")
    else:
        print(f"run {run['id']} {run['state']}")
    return exit_codes.OK

