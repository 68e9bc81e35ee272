"""`flowyard promotions list|show|request|approve|reject`: move the version tested in one environment to the next."""

from __future__ import annotations

import argparse

from flowyard_builder.commands import show_group_usage
from flowyard_builder.api_client import add_connection_options
from flowyard_builder.commands.promotions.describing import (
    DESCRIBED_FIELDS,
    describe_decision,
    describe_promotion,
    describe_request,
)
from flowyard_builder.commands.promotions.formatting import (
    CI_TOKEN_PREFIX,
    CI_TOKEN_VARIABLE,
    DEFAULT_LIST_LIMIT,
    DEFAULT_SOURCE,
    DEFAULT_TARGET,
    MIN_ID_PREFIX_LENGTH,
    PROMOTION_OBJECT_TYPE,
    SHORT_DIGEST_LENGTH,
    SHORT_ID_LENGTH,
    STATES,
    approval_counts,
    describe_state,
    format_age,
    requested_by_and_for,
    requester_and_author,
    short_digest,
    short_id,
)
from flowyard_builder.commands.promotions.handlers import (
    explain_pending,
    explain_self_approval,
    handle_decision,
    handle_list,
    handle_request,
    handle_show,
)
from flowyard_builder.commands.promotions.lookups import (
    PromotionNames,
    client_for,
    decided_by,
    environment_id,
    is_uuid,
    resolve_promotion_id,
)

__all__ = [
    "CI_TOKEN_PREFIX", "CI_TOKEN_VARIABLE", "DEFAULT_LIST_LIMIT", "DEFAULT_SOURCE", "DEFAULT_TARGET",
    "DESCRIBED_FIELDS", "MIN_ID_PREFIX_LENGTH", "PROMOTION_OBJECT_TYPE", "SHORT_DIGEST_LENGTH", "SHORT_ID_LENGTH",
    "STATES", "PromotionNames", "approval_counts", "client_for", "decided_by", "describe_decision",
    "describe_promotion", "describe_request", "describe_state", "environment_id", "explain_pending",
    "explain_self_approval", "format_age", "handle_decision", "handle_list", "handle_request", "handle_show",
    "is_uuid", "register", "requested_by_and_for", "requester_and_author", "resolve_promotion_id", "short_digest",
    "short_id",
]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `promotions` command group: list, show, request, approve, reject."""
    group = subparsers.add_parser(
        "promotions", help="list, show, request, approve or reject promotions (test → production)",
        description="Promotions move the exact version tested in one environment to the next (test → production). "
                    "Developers and CI request them; approvers approve or reject them, never approving their own "
                    "change (four eyes).",
        epilog="Exit codes: 0 ok, 1 invalid input or a name not found, 3 the control plane refused (a role too low, "
               "your own change, a promotion already pending or decided) or is unreachable.")
    group.set_defaults(handler=lambda args: show_group_usage(group))
    commands = group.add_subparsers(dest="promotions_command", metavar="SUBCOMMAND")

    parser = commands.add_parser(
        "list", help="a project's promotions, newest first",
        description="List a project's promotions newest first: id, workflow, from → to, version, state, who "
                    "requested it (and for whom), age.")
    parser.add_argument("project", metavar="PROJECT[/WORKFLOW]", help="the project's slug (optionally /WORKFLOW)")
    parser.add_argument("--workflow", metavar="NAME", help="only this workflow's promotions")
    parser.add_argument("--state", type=str.lower, choices=STATES, help="only promotions in this state")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT, metavar="N",
                        help=f"at most N promotions (default {DEFAULT_LIST_LIMIT})")
    parser.add_argument("--json", action="store_true", help="print the promotions as a JSON array")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_list)

    parser = commands.add_parser(
        "show", help="one promotion in full",
        description="Show a promotion: workflow, environments, version, state, approvals, who requested it and for "
                    "whom, its comment and merge request, and who decided it when.")
    _add_id_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the promotion as JSON")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_show)

    parser = commands.add_parser(
        "request", help="ask for the version tested in --from to be promoted to --to",
        description="Request the promotion of the version of PROJECT/WORKFLOW deployed to --from (default "
                    f"{DEFAULT_SOURCE}) to --to (default {DEFAULT_TARGET}), and print it with its state. An approver "
                    "other than you (and than --for) approves it. With a CI token (fyc_…, also read from "
                    f"${CI_TOKEN_VARIABLE}), which cannot look names up, give ids: PROJECT/WORKFLOW_ID and "
                    "--from/--to ENVIRONMENT_ID.")
    parser.add_argument("target", metavar="PROJECT/WORKFLOW", help="the project's slug and the workflow's name (or id)")
    parser.add_argument("--from", dest="source", default=DEFAULT_SOURCE, metavar="ENV",
                        help=f"the environment the version was tested in, by name or id (default {DEFAULT_SOURCE})")
    parser.add_argument("--to", dest="destination", default=DEFAULT_TARGET, metavar="ENV",
                        help=f"the environment to promote it to, by name or id (default {DEFAULT_TARGET})")
    parser.add_argument("--for", dest="requested_for", default="", metavar="AUTHOR",
                        help="the change's author (e.g. the merge request's), who may not approve it either")
    parser.add_argument("--comment", default="", help="why, for the approvers")
    parser.add_argument("--merge-request-url", default="", metavar="URL", help="the merge request of the change")
    parser.add_argument("--version", metavar="VERSION_ID",
                        help="the version id you expect in --from; refused if another one is deployed there")
    parser.add_argument("--json", action="store_true", help="print the new promotion as JSON")
    add_connection_options(parser)
    parser.set_defaults(handler=handle_request)

    for action, help_text in (
        ("approve", "approve a pending promotion: its version is deployed to the target environment"),
        ("reject", "reject a pending promotion (your own too: a withdrawal); nothing is deployed"),
    ):
        parser = commands.add_parser(action, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        _add_id_argument(parser)
        parser.add_argument("--comment", default="", help="why, recorded with the decision")
        parser.add_argument("--json", action="store_true", help="print the promotion as JSON")
        add_connection_options(parser)
        parser.set_defaults(handler=handle_decision, action=action)


def _add_id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("promotion_id", metavar="ID",
                        help=f"the promotion's id, or its first {SHORT_ID_LENGTH} characters as `list` shows them")
