"""`flowyard gitops diff|sync PROJECT`: how a project's deployments drift from its linked repositories, and
reconciling them from Git.

`diff` prints, for each repository linked to the project, the drift from the head of its default branch the way
`git diff` shows changes (the deployed side `-`, Git's side `+`); `sync` asks the control plane to apply what Git
says (never to production) and prints what it applied and what it left. Exit codes: 0 ok (with `diff
--exit-code`: 1 when there is drift), 1 invalid input or an unknown project, 3 the control plane refused, is
unreachable, or could not read a linked repository (its git message is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.commands import show_group_usage
from flowyard_builder.api_client import (
    ApiClient,
    MissingSettings,
    add_connection_options,
    client_from_args,
    report_error,
)
from flowyard_builder.control_plane import ControlPlaneError

# Fetching a repository may take a while: the control plane gives git up to two minutes.
TIMEOUT_SECONDS = 300.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `gitops` command group: diff and sync."""
    group = subparsers.add_parser(
        "gitops", help="compare a project's deployments with its Git repositories, or reconcile them",
        description="Git is the source of truth: each repository linked to a project says, at the head of its "
                    "default branch, which workflows exist, their flowyard.json, and which CI build test should "
                    "run. `diff` shows where the deployments drift from it; `sync` applies what Git says.",
        epilog="Exit codes: 0 ok (diff --exit-code: 1 when there is drift), 1 invalid input or an unknown project, "
               "3 the control plane refused (a role too low), is unreachable, or could not read a repository.")
    group.set_defaults(handler=lambda args: show_group_usage(group))
    commands = group.add_subparsers(dest="gitops_command", metavar="SUBCOMMAND")

    parser = commands.add_parser(
        "diff", help="print how the deployments drift from Git, like `git diff`",
        description="For each repository linked to PROJECT, fetch the head of its default branch and print each "
                    "drift: a deployment changed outside Git, a config not built yet, a workflow removed from Git "
                    "but still deployed, a config that differs, production not running what was promoted. Changes "
                    "nothing. Viewers may run it.")
    parser.add_argument("project", metavar="PROJECT", help="the project's slug")
    parser.add_argument("--exit-code", action="store_true", help="exit with 1 when there is drift (as git diff)")
    parser.add_argument("--json", action="store_true", help="print the reports as a JSON array")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_diff)

    parser = commands.add_parser(
        "sync", help="apply what Git says (never to production) and print what was applied",
        description="For each repository linked to PROJECT, apply what the head of its default branch says: a "
                    "workflow removed from Git is paused (not deleted) until an admin confirms; a test deployment "
                    "changed outside Git gets the CI build of Git's config back. Production changes only through "
                    "an approved promotion, so its drift is only reported. Needs the project's admin role.")
    parser.add_argument("project", metavar="PROJECT", help="the project's slug")
    parser.add_argument("--json", action="store_true", help="print the reports as a JSON array")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_sync)



def _links(client: ApiClient, project_slug: str) -> list[dict[str, Any]]:
    project = client.project(project_slug)
    return list(client.iterate("/gitops/repositories/", {"project": project["id"]}))


def _client(args: argparse.Namespace) -> ApiClient:
    client = client_from_args(args)
    client.timeout = max(client.timeout, TIMEOUT_SECONDS)
    return client


def describe_report(report: dict[str, Any], *, applied: bool = False) -> list[str]:
    """One link's report as lines: a heading, then its error, its diff, or "no drift" (and, after a sync, what
    was applied and what was left)."""
    head = (report.get("head_sha") or "")[:8]
    where = f"{report['repository']} ({report['branch']}" + (f" at {head})" if head else ")")
    lines = [f"# {where}"]
    if report.get("error"):
        lines.append(f"error: {report['error']}")
        if applied:
            lines.append("nothing was changed")
        return lines
    done = report.get("applied") or []
    if applied:
        lines.extend(f"applied: {item['detail']}" for item in done)
        fixed = {(item["workflow"], item["environment"], item["kind"]) for item in done}
        left = [drift for drift in report.get("drift") or []
                if (drift["workflow"], drift["environment"], drift["kind"]) not in fixed]
        lines.extend(f"left: {drift['kind']} {drift['workflow']} in {drift['environment']}: "
                     f"{drift.get('why_not_fixed') or drift['summary']}" for drift in left)
        if not done and not left:
            lines.append("no drift: nothing to apply")
        return lines
    if report.get("diff"):
        lines.extend(report["diff"].splitlines())
    else:
        lines.append("no drift")
    return lines


def _run(args: argparse.Namespace, command: str, call) -> tuple[list[dict[str, Any]] | None, int]:
    try:
        client = _client(args)
        links = _links(client, args.project)
        reports = [call(client, link) for link in links]
    except (ControlPlaneError, MissingSettings) as exc:
        return None, report_error(command, exc)
    if not links:
        print(f"{command}: project {args.project!r} has no linked repository", file=sys.stderr)
    return reports, exit_codes.OK


def handle_diff(args: argparse.Namespace) -> int:
    """Print each linked repository's drift."""
    command = "flowyard gitops diff"
    reports, code = _run(args, command, lambda client, link: client.get(f"/gitops/repositories/{link['id']}/diff/"))
    if reports is None:
        return code
    _print(reports, args.json, applied=False)
    if any(report.get("error") for report in reports):
        return exit_codes.REFUSED
    if args.exit_code and any(report.get("drift") for report in reports):
        return exit_codes.INVALID_INPUT
    return exit_codes.OK


def handle_sync(args: argparse.Namespace) -> int:
    """Sync each linked repository and print what was applied."""
    command = "flowyard gitops sync"
    reports, code = _run(args, command, lambda client, link: client.post(f"/gitops/repositories/{link['id']}/sync/"))
    if reports is None:
        return code
    _print(reports, args.json, applied=True)
    return exit_codes.REFUSED if any(report.get("error") for report in reports) else exit_codes.OK


def _print(reports: list[dict[str, Any]], as_json: bool, *, applied: bool) -> None:
    if as_json:
        print(json.dumps(reports, indent=2, sort_keys=True))
        return
    print("\n".join(line for report in reports for line in describe_report(report, applied=applied)))
