"""`flowyard webhook create|rotate|show PROJECT/WORKFLOW --env ENV`: a deployment's webhook URL and secret (once)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import (
    ApiClient,
    MissingSettings,
    NotFound,
    add_connection_options,
    client_from_args,
    report_error,
)
from flowyard_builder.commands.trigger import parse_target
from flowyard_builder.control_plane import ControlPlaneError

ACTIONS = ("create", "rotate", "show")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `webhook` command."""
    parser = subparsers.add_parser(
        "webhook",
        help="make, rotate or show the webhook of a deployed workflow",
        description="A deployment's webhook is a URL that starts a run when it is POSTed to with the webhook's "
                    "secret (docs/webhooks.md). `create` makes it and `rotate` replaces its secret: both print the "
                    "URL and the secret, which is never shown again. `show` prints the URL and whether it is "
                    "enabled, never the secret.",
        epilog="Exit codes: 0 ok, 1 invalid input or a name not found, 3 the control plane refused or is unreachable.",
    )
    parser.add_argument("action", choices=ACTIONS, help="create, rotate or show")
    parser.add_argument("target", metavar="PROJECT/WORKFLOW", help="the project's slug and the workflow's name")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment (e.g. test, production)")
    parser.add_argument("--json", action="store_true",
                        help="print the webhook as JSON (with `secret` after create or rotate)")
    add_connection_options(parser)
    parser.set_defaults(handler=handle)


def find_webhook(client: ApiClient, deployment: dict[str, Any], where: str) -> dict[str, Any]:
    """The webhook of `deployment`; NotFound saying how to make one."""
    for webhook in client.iterate("/webhooks/", {"deployment": deployment["id"]}, limit=1):
        return webhook
    raise NotFound(f"{where} has no webhook; make one with `flowyard webhook create`")


def handle(args: argparse.Namespace) -> int:
    """Resolve the deployment, then create, rotate or show its webhook."""
    try:
        project_slug, workflow_name = parse_target(args.target)
    except ValueError as exc:
        print(f"flowyard webhook: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        client = client_from_args(args)
        deployment = client.deployment_of(project_slug, workflow_name, args.env)
        where = f"{project_slug}/{workflow_name} in {deployment['environment_name']}"
        if args.action == "create":
            webhook = client.post("/webhooks/", {"deployment": deployment["id"]})
        elif args.action == "rotate":
            webhook = client.post(f"/webhooks/{find_webhook(client, deployment, where)['id']}/rotate/")
        else:
            webhook = find_webhook(client, deployment, where)
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error(f"flowyard webhook {args.action}", exc)
    if args.json:
        print(json.dumps(webhook, indent=2))
        return exit_codes.OK
    state = "enabled" if webhook["is_enabled"] else "disabled (answers 404)"
    print(f"webhook {webhook['id']} of {where}: {state}")
    print(f"url:    {webhook['url']}")
    if "secret" in webhook:
        print(f"secret: {webhook['secret']}")
        print("The secret is shown this once: store it now (docs/webhooks.md shows how to call the URL).",
              file=sys.stderr)
    return exit_codes.OK
