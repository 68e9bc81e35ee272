"""`flowyard cost`: what runs cost per day, workflow, project or team, as a table, CSV or JSON (personal token)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import MissingSettings, add_connection_options, client_from_args, report_error
from flowyard_builder.commands.runs import format_table
from flowyard_builder.control_plane import ControlPlaneError

DIMENSIONS = ("day", "workflow", "project", "team")
FORMATS = ("table", "csv", "json")
# The columns each dimension adds to the table and to CSV, in order.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "day": (("DAY", "day"),),
    "workflow": (("WORKFLOW", "workflow_name"), ("PROJECT", "project_slug"), ("WORKFLOW ID", "workflow")),
    "project": (("PROJECT", "project_slug"), ("PROJECT ID", "project")),
    "team": (("TEAM", "team_slug"), ("TEAM ID", "team")),
}
TABLE_HIDDEN = {"workflow", "project", "team"}  # ids go to CSV and JSON, not the table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cost` command."""
    parser = subparsers.add_parser(
        "cost", help="what runs cost per day, workflow, project or team",
        description="Sum what finished runs cost (requested vCPU and GiB × wall time × the runtime target's prices) "
                    "over UTC days, grouped per day, workflow, project or team, for the projects you can see.")
    parser.add_argument("--project", metavar="PROJECT", help="only this project (slug or id)")
    parser.add_argument("--team", metavar="TEAM", help="only this team's projects (slug or id)")
    parser.add_argument("--since", default="30d", metavar="WHEN",
                        help="the first UTC day: YYYY-MM-DD, or Nd for the last N days including today (default 30d)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="the last UTC day, included (default today)")
    parser.add_argument("--group-by", default="day", metavar="DIMENSION",
                        help=f"rows per {', '.join(DIMENSIONS)}; comma-separated to combine, e.g. project,day "
                             "(default day)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_cost)


def parse_group_by(value: str) -> list[str]:
    """The dimensions of --group-by; ValueError naming an unknown or repeated one."""
    parts = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [part for part in parts if part not in DIMENSIONS]
    if not parts or unknown or len(set(parts)) != len(parts):
        raise ValueError(f"--group-by {value!r}: use {', '.join(DIMENSIONS)}, each once (comma-separated)")
    return parts


def dollars(value: str | None) -> str:
    """An API amount rounded to the cent, e.g. "$12.34"."""
    try:
        amount = Decimal(value or "0")
    except InvalidOperation:
        return str(value)
    return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def hours(seconds: str | None) -> str:
    """Wall seconds as hours with one decimal."""
    return f"{Decimal(seconds or '0') / 3600:.1f}"


def columns(group_by: list[str], *, table: bool) -> list[tuple[str, str]]:
    """(header, key) of the dimension columns, in --group-by order."""
    return [(header, key) for dimension in group_by for header, key in COLUMNS[dimension]
            if not (table and key in TABLE_HIDDEN)]


def render_table(body: dict[str, Any]) -> str:
    """The rows as a table, the total, and each budgeted project's month so far."""
    dims = columns(body["group_by"], table=True)
    headers = [header for header, _ in dims] + ["RUNS", "HOURS", "COST"]
    rows = [[str(row.get(key, "")) for _, key in dims] + [str(row["runs"]), hours(row["wall_seconds"]), dollars(row["amount"])]
            for row in body["rows"]]
    lines = [format_table(headers, rows)] if rows else ["no finished runs in this window"]
    lines.append(f"total {dollars(body['total'])} {body['currency']} for {body['runs']} runs, "
                 f"{body['since']} to {body['until']} (UTC)")
    for project in body.get("projects", []):
        if project.get("monthly_budget"):
            budget, spent = Decimal(project["monthly_budget"]), Decimal(project["month_spent"])
            share = f"{spent * 100 / budget:.0f} %" if budget else "-"
            lines.append(f"budget of {project['slug']} in {body['period']}: {dollars(project['month_spent'])} of "
                         f"{dollars(project['monthly_budget'])} ({share})")
    return "\n".join(lines)


def write_csv(body: dict[str, Any], out: Any) -> None:
    """The rows as CSV with a header line; amounts unrounded, as the API gives them."""
    dims = columns(body["group_by"], table=False)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([key for _, key in dims] + ["runs", "wall_seconds", "amount", "currency"])
    for row in body["rows"]:
        writer.writerow([row.get(key, "") for _, key in dims] + [row["runs"], row["wall_seconds"], row["amount"],
                                                                 body["currency"]])


def handle_cost(args: argparse.Namespace) -> int:
    """Ask the control plane for the rollup and print it in the chosen format."""
    try:
        group_by = parse_group_by(args.group_by)
    except ValueError as exc:
        print(f"flowyard cost: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    query = {"project": args.project, "team": args.team, "since": args.since, "until": args.until,
             "group_by": ",".join(group_by)}
    try:
        body = client_from_args(args).get("/costs/", query)
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard cost", exc)
    if args.format == "json":
        print(json.dumps(body, indent=2))
    elif args.format == "csv":
        write_csv(body, sys.stdout)
    else:
        print(render_table(body))
    return exit_codes.OK
