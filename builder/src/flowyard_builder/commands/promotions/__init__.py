"""`flowyard promotions list|show|request|approve|reject`: move the version tested in one environment to the next,
with four eyes: whoever made a change (asked for its promotion, or authored it) never approves it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import (
    TOKEN_VARIABLE,
    ApiClient,
    MissingSettings,
    NotFound,
    add_connection_options,
    client_from_args,
    local_time,
    parse_time,
    report_error,
)
from flowyard_builder.commands.runs import format_table
from flowyard_builder.control_plane import ControlPlaneError, Refused

DEFAULT_LIST_LIMIT = 20
DEFAULT_SOURCE = "test"
DEFAULT_TARGET = "production"
STATES = ("pending", "approved", "rejected")
SHORT_ID_LENGTH = 8
MIN_ID_PREFIX_LENGTH = 4
SHORT_DIGEST_LENGTH = 12
CI_TOKEN_PREFIX = "fyc_"
CI_TOKEN_VARIABLE = "FLOWYARD_CI_TOKEN"
PROMOTION_OBJECT_TYPE = "deployments.promotion"
# Fields `show` prints in its own words; any other field the API adds is printed as it comes.
DESCRIBED_FIELDS = frozenset({
    "id", "workflow", "workflow_name", "version", "image_digest", "source_environment", "source_environment_name",
    "target_environment", "target_environment_name", "state", "requested_by_label", "requested_for", "decided_at",
    "decided_by", "decided_by_label", "comment", "merge_request_url", "merge_request_iid", "approvals",
    "required_approvals", "condition", "created_at", "updated_at",
})


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `promotions` command group: list, show, request, approve, reject."""
    group = subparsers.add_parser(
        "promotions", help="list, show, request, approve or reject promotions (test → production)",
        description="Promotions move the exact version tested in one environment to the next (test → production). "
                    "Developers and CI request them; approvers approve or reject them, never approving their own "
                    "change (four eyes).",
        epilog="Exit codes: 0 ok, 1 invalid input or a name not found, 3 the control plane refused (a role too low, "
               "your own change, a promotion already pending or decided) or is unreachable.")
    group.set_defaults(handler=lambda args: _usage(group))
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


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.INVALID_INPUT


def _fail(command: str, message: str, code: int = exit_codes.INVALID_INPUT) -> int:
    print(f"flowyard promotions {command}: {message}", file=sys.stderr)
    return code


def _error_code(exc: ControlPlaneError) -> str:
    return str(exc.body.get("code") or "")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def short_id(value: str) -> str:
    """The first characters of an id, as `list` prints it."""
    return value[:SHORT_ID_LENGTH]


def short_digest(digest: str | None) -> str:
    """An image digest's first hex characters ("sha256:" dropped), or "-"."""
    if not digest:
        return "-"
    return digest.partition(":")[2][:SHORT_DIGEST_LENGTH] or digest[:SHORT_DIGEST_LENGTH]


def format_age(created_at: str | None, now: datetime | None = None) -> str:
    """How long ago an API date-time was: "40s", "5m", "3h", "2d"; "-" when unknown."""
    moment = parse_time(created_at)
    if moment is None:
        return "-"
    seconds = max(int(((now or datetime.now(timezone.utc)) - moment).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def requested_by_and_for(promotion: dict[str, Any]) -> str:
    """Who asked for a promotion, and for whom when that is someone else: "ci-token:gitlab@app for ada"."""
    by = promotion.get("requested_by_label") or "?"
    author = promotion.get("requested_for") or ""
    return f"{by} for {author}" if author and author != by else by


def requester_and_author(promotion: dict[str, Any]) -> str:
    """Everyone who made the change, none of whom may approve it: "alice", or "ci-token:gitlab@app and ada"."""
    people = [promotion.get("requested_by_label") or "?"]
    if promotion.get("requested_for") and promotion["requested_for"] not in people:
        people.append(promotion["requested_for"])
    return " and ".join(people)


def approval_counts(promotion: dict[str, Any]) -> tuple[int, int] | None:
    """(approvals given, approvals needed) of a pending promotion when the API sends them, else None."""
    required = promotion.get("required_approvals")
    approvals = promotion.get("approvals")
    if promotion.get("state") != "PENDING" or not isinstance(required, int) or not isinstance(approvals, list):
        return None
    return len(approvals), required


def describe_state(promotion: dict[str, Any], compact: bool = False) -> str:
    """The state, with the approvals a pending promotion has and needs when the API says so: "PENDING (1 of 2
    approvals)", or "PENDING 1/2" in a table."""
    state = promotion.get("state", "?")
    counts = approval_counts(promotion)
    if counts is None:
        return state
    return f"{state} {counts[0]}/{counts[1]}" if compact else f"{state} ({counts[0]} of {counts[1]} approvals)"


class PromotionNames:
    """The names behind a promotion's ids (workflow, environments, version, project), each looked up once; the
    promotion's own `*_name` and `image_digest` fields are used when the API sends them."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._objects: dict[str, dict[str, Any]] = {}

    def remember(self, kind: str, objects: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> None:
        """Keep objects already fetched (e.g. a project's environments) so they are not asked for again."""
        for obj in objects:
            self._objects[f"/{kind}/{obj['id']}/"] = obj

    def lookup(self, kind: str, object_id: str | None) -> dict[str, Any]:
        """The object `/kind/{id}/`, or {} when there is no id or the caller may not see it."""
        if not object_id:
            return {}
        path = f"/{kind}/{object_id}/"
        if path not in self._objects:
            try:
                self._objects[path] = self.client.get(path)
            except Refused as exc:
                if exc.status is None:  # unreachable: no point asking for the next name
                    raise
                self._objects[path] = {}
        return self._objects[path]

    def workflow(self, promotion: dict[str, Any]) -> str:
        """The workflow's name."""
        return (promotion.get("workflow_name") or self.lookup("workflows", promotion.get("workflow")).get("name")
                or short_id(str(promotion.get("workflow"))))

    def environment(self, promotion: dict[str, Any], side: str) -> str:
        """The name of the `source` or `target` environment."""
        object_id = promotion.get(f"{side}_environment")
        return (promotion.get(f"{side}_environment_name") or self.lookup("environments", object_id).get("name")
                or short_id(str(object_id)))

    def version(self, promotion: dict[str, Any], details: bool = False) -> dict[str, Any]:
        """The promoted version: its image digest at least, looked up only when the promotion lacks it or with
        `details` (image, commit, branch, author)."""
        wanted = details or not promotion.get("image_digest")
        version = self.lookup("versions", promotion.get("version")) if wanted else {}
        return {**version, "image_digest": promotion.get("image_digest") or version.get("image_digest")}

    def project_slug(self, promotion: dict[str, Any]) -> str:
        """The slug of the workflow's project ("?" when it cannot be seen)."""
        project_id = self.lookup("workflows", promotion.get("workflow")).get("project")
        return self.lookup("projects", project_id).get("slug") or "?"


# -- resolving what the command line names -------------------------------------------------------------------

def resolve_promotion_id(client: ApiClient, value: str) -> str:
    """A full promotion id from an id or a unique prefix of one; ValueError or NotFound saying what to give."""
    value = value.strip().lower()
    if _is_uuid(value):
        return str(uuid.UUID(value))
    if len(value) < MIN_ID_PREFIX_LENGTH or any(char not in "0123456789abcdef-" for char in value):
        raise ValueError(f"{value!r} is not a promotion id: give its UUID or at least its first {MIN_ID_PREFIX_LENGTH} "
                         "characters, as `flowyard promotions list PROJECT` shows them")
    matches: list[str] = []
    for promotion in client.iterate("/promotions/"):
        if promotion["id"].startswith(value):
            matches.append(promotion["id"])
            if len(matches) > 1:
                raise NotFound(f"{value!r} is the start of several promotion ids ({', '.join(matches)}, …); "
                               "give more characters or the whole id")
    if not matches:
        raise NotFound(f"no promotion that you can see has an id starting with {value!r}; "
                       "`flowyard promotions list PROJECT` shows them")
    return matches[0]


def environment_id(client: ApiClient, project: dict[str, Any], name: str, option: str) -> str:
    """The id of the project's environment `name` (an id is taken as it is); NotFound lists the ones it has."""
    if _is_uuid(name):
        return name
    for environment in client.iterate("/environments/", {"project": project["id"], "name": name}, limit=1):
        return environment["id"]
    names = [environment["name"] for environment in client.iterate("/environments/", {"project": project["id"]})
             if not environment.get("torn_down_at")]
    raise NotFound(f"{option} {name!r}: project {project['slug']!r} has no such environment "
                   f"(it has: {', '.join(names) or 'none'})")


def client_for(args: argparse.Namespace, allow_ci_token: bool = False) -> ApiClient:
    """The client of --api/--token; for `request` a CI's $FLOWYARD_CI_TOKEN stands in for a missing token."""
    if allow_ci_token and not args.token and not os.environ.get(TOKEN_VARIABLE) and os.environ.get(CI_TOKEN_VARIABLE):
        args.token = os.environ[CI_TOKEN_VARIABLE]
    return client_from_args(args)


# -- list -----------------------------------------------------------------------------------------------------

def handle_list(args: argparse.Namespace) -> int:
    """Print a project's promotions, newest first, filtered by workflow and state."""
    project_slug, _, workflow_name = args.project.partition("/")
    if not project_slug or "/" in workflow_name or (args.project.endswith("/") and not workflow_name):
        return _fail("list", f"{args.project!r} is not PROJECT or PROJECT/WORKFLOW")
    if workflow_name and args.workflow and workflow_name != args.workflow:
        return _fail("list", f"two workflows given ({workflow_name!r} and --workflow {args.workflow!r}); give one")
    workflow_name = workflow_name or args.workflow or ""
    if args.limit < 1:
        return _fail("list", "--limit must be 1 or more")
    try:
        client = client_from_args(args)
        project = client.project(project_slug)
        query: list[tuple[str, Any]] = [("project", project["id"]), ("state", (args.state or "").upper())]
        if workflow_name:
            query.append(("workflow", client.workflow(project, workflow_name)["id"]))
        promotions = list(client.iterate("/promotions/", query, limit=args.limit))
        if args.json:
            print(json.dumps(promotions, indent=2))
            return exit_codes.OK
        names = PromotionNames(client)
        if promotions and not all(p.get("workflow_name") and p.get("target_environment_name") for p in promotions):
            names.remember("environments", client.iterate("/environments/", {"project": project["id"]}))
            names.remember("workflows", client.iterate("/workflows/", {"project": project["id"]}))
        now = datetime.now(timezone.utc)
        rows = [
            (short_id(p["id"]), names.workflow(p), f"{names.environment(p, 'source')} → {names.environment(p, 'target')}",
             short_digest(names.version(p).get("image_digest")), describe_state(p, compact=True), requested_by_and_for(p),
             format_age(p.get("created_at"), now))
            for p in promotions
        ]
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard promotions list", exc)
    if not rows:
        which = f"{args.state} " if args.state else ""
        print(f"no {which}promotions in {project_slug}" + (f" for {workflow_name}" if workflow_name else ""),
              file=sys.stderr)
        return exit_codes.OK
    print(format_table(("ID", "WORKFLOW", "FROM → TO", "VERSION", "STATE", "REQUESTED BY", "AGE"), rows))
    return exit_codes.OK


# -- show -----------------------------------------------------------------------------------------------------

def decided_by(client: ApiClient, promotion: dict[str, Any]) -> str:
    """Who approved or rejected a decided promotion: the API's field when it sends one, else the audit log's."""
    label = promotion.get("decided_by_label") or promotion.get("decided_by")
    if label or promotion.get("state") not in ("APPROVED", "REJECTED"):
        return str(label or "")
    query = {"object_type": PROMOTION_OBJECT_TYPE, "object_id": promotion["id"],
             "action": f"promotion.{promotion['state'].lower()}"}
    try:
        for event in client.iterate("/audit-events/", query, limit=1):
            return str(event.get("actor_label") or "")
    except Refused as exc:
        if exc.status is None:
            raise
    return ""


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def describe_promotion(promotion: dict[str, Any], names: PromotionNames, decider: str = "") -> str:
    """A promotion as `field  value` lines, with what to do next while it is pending."""
    version = names.version(promotion, details=True)
    built = ", ".join(part for part in (
        f"commit {version['git_commit_sha'][:12]}" if version.get("git_commit_sha") else "",
        f"branch {version['git_branch']}" if version.get("git_branch") else "",
        f"by {version['git_author']}" if version.get("git_author") else "",
    ) if part)
    state = promotion.get("state", "?")
    fields = [
        ("promotion", promotion["id"]),
        ("workflow", f"{names.project_slug(promotion)}/{names.workflow(promotion)}"),
        ("from → to", f"{names.environment(promotion, 'source')} → {names.environment(promotion, 'target')}"),
        ("version", (version.get("image_digest") or str(promotion.get("version") or "-")) + (f" ({built})" if built else "")),
        ("image", version.get("image_ref") or "-"),
        ("state", describe_state(promotion)),
        ("requested", f"{local_time(promotion.get('created_at'))} by {requested_by_and_for(promotion)}"),
        ("comment", promotion.get("comment") or "-"),
        ("merge request", (promotion.get("merge_request_url") or "-")
         + (f" (!{promotion['merge_request_iid']})" if promotion.get("merge_request_iid") else "")),
    ]
    if promotion.get("required_approvals") is not None:
        fields.append(("approvals needed", str(promotion["required_approvals"])))
    for approval in promotion.get("approvals") or []:
        if isinstance(approval, dict):
            note = f": {approval['comment']}" if approval.get("comment") else ""
            fields.append(("approved by", f"{approval.get('user', '?')} at {local_time(approval.get('at'))}{note}"))
        else:
            fields.append(("approved by", _format_value(approval)))
    if promotion.get("condition"):
        fields.append(("condition", _format_value(promotion["condition"])))
    if state == "PENDING":
        fields.append(("decided", "- (pending)"))
    else:
        fields.append(("decided", f"{state} by {decider or '?'} at {local_time(promotion.get('decided_at'))}"))
    fields += [(name.replace("_", " "), _format_value(value)) for name, value in promotion.items()
               if name not in DESCRIBED_FIELDS and value not in (None, "", [], {})]
    width = max(len(name) for name, _ in fields)
    text = "\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)
    if state == "PENDING":
        text += (f"\n\nnext: an approver other than {requester_and_author(promotion)} runs "
                 f"`flowyard promotions approve {promotion['id']}` (or `reject`)")
    return text


def handle_show(args: argparse.Namespace) -> int:
    """Print one promotion in full."""
    try:
        client = client_from_args(args)
        promotion_id = resolve_promotion_id(client, args.promotion_id)
        promotion = client.get(f"/promotions/{promotion_id}/")
        if args.json:
            print(json.dumps(promotion, indent=2))
            return exit_codes.OK
        text = describe_promotion(promotion, PromotionNames(client), decided_by(client, promotion))
    except ValueError as exc:
        return _fail("show", str(exc))
    except (ControlPlaneError, MissingSettings) as exc:
        return _report("show", exc, args.promotion_id)
    print(text)
    return exit_codes.OK


# -- request --------------------------------------------------------------------------------------------------

def handle_request(args: argparse.Namespace) -> int:
    """Request a promotion of PROJECT/WORKFLOW from --from to --to and print it with its state."""
    project_slug, _, workflow = args.target.partition("/")
    if not project_slug or not workflow or "/" in workflow:
        return _fail("request", f"{args.target!r} is not PROJECT/WORKFLOW (e.g. data-team/etl)")
    if args.source == args.destination:
        return _fail("request", f"--from and --to are both {args.source!r}; promotions go forward, e.g. --from "
                                f"{DEFAULT_SOURCE} --to {DEFAULT_TARGET}")
    try:
        client = client_for(args, allow_ci_token=True)
        names = [value for value in (workflow, args.source, args.destination) if not _is_uuid(value)]
        if client.token.startswith(CI_TOKEN_PREFIX) and names:
            return _fail("request", f"a CI token cannot look up names ({', '.join(names)}): give the workflow's and "
                                    "the environments' ids (PROJECT/WORKFLOW_ID --from ENV_ID --to ENV_ID), or use a "
                                    "personal token (fyp_…)")
        project = client.project(project_slug) if names else {}
        workflow_id = workflow if _is_uuid(workflow) else client.workflow(project, workflow)["id"]
        payload = {
            "workflow": workflow_id,
            "source_environment": environment_id(client, project, args.source, "--from"),
            "target_environment": environment_id(client, project, args.destination, "--to"),
            "requested_for": args.requested_for,
            "comment": args.comment,
            "merge_request_url": args.merge_request_url,
        }
        if args.version:
            payload["version"] = args.version
        try:
            promotion = client.post("/promotions/", payload)
        except Refused as exc:
            if _error_code(exc) != "promotion_pending":
                raise
            return _fail("request", explain_pending(client, exc, payload, args), exit_codes.REFUSED)
        if args.json:
            print(json.dumps(promotion, indent=2))
            return exit_codes.OK
        text = describe_request(promotion, PromotionNames(client), args)
    except (ControlPlaneError, MissingSettings) as exc:
        return report_error("flowyard promotions request", exc)
    print(text)
    return exit_codes.OK


def describe_request(promotion: dict[str, Any], names: PromotionNames, args: argparse.Namespace) -> str:
    """The new promotion in one line, and who may approve it."""
    source = names.environment(promotion, "source") if _is_uuid(args.source) else args.source
    target = names.environment(promotion, "target") if _is_uuid(args.destination) else args.destination
    workflow = promotion.get("workflow_name") or args.target.partition("/")[2]
    digest = promotion.get("image_digest") or names.lookup("versions", promotion.get("version")).get("image_digest")
    line = (f"promotion {promotion['id']}: {workflow} {source} → {target}, version {short_digest(digest)}: "
            f"{promotion.get('state', '?')} (requested by {requested_by_and_for(promotion)})")
    if promotion.get("state") != "PENDING":
        return line
    counts = approval_counts(promotion)
    needed = f"{counts[1] - counts[0]} approval{'s' if counts[1] - counts[0] != 1 else ''}" if counts else "an approval"
    return line + (f"\nit needs {needed} from approvers of the project other than {requester_and_author(promotion)}: "
                   f"`flowyard promotions approve {short_id(promotion['id'])}`")


def explain_pending(client: ApiClient, exc: ControlPlaneError, payload: dict[str, Any], args: argparse.Namespace) -> str:
    """Why a request was refused as already pending, naming the pending promotion when the caller can list it."""
    workflow = args.target.partition("/")[2]
    pending: dict[str, Any] | None = None
    try:
        for promotion in client.iterate("/promotions/", {"workflow": payload["workflow"], "state": "PENDING"}):
            if (promotion.get("target_environment") == payload["target_environment"]
                    and (promotion.get("merge_request_url") or "") == payload["merge_request_url"]):
                pending = promotion
                break
    except ControlPlaneError:
        pending = None  # e.g. a CI token, which may not list promotions: the control plane's words suffice
    if pending is None:
        return (f"{exc} Only one promotion of a workflow to an environment waits at a time: an approver approves or "
                "rejects the pending one first.")
    return (f"a promotion of {workflow} to {args.destination} is already pending: {pending['id']}, requested by "
            f"{requested_by_and_for(pending)} {format_age(pending.get('created_at'))} ago. Only one waits at a time: "
            f"an approver approves or rejects it first (`flowyard promotions show {short_id(pending['id'])}`); "
            "whoever requested it may reject it to withdraw it.")


# -- approve / reject -----------------------------------------------------------------------------------------

def handle_decision(args: argparse.Namespace) -> int:
    """Approve or reject a pending promotion and print its new state."""
    action = args.action
    promotion_id = args.promotion_id
    try:
        client = client_from_args(args)
        promotion_id = resolve_promotion_id(client, args.promotion_id)
        try:
            promotion = client.post(f"/promotions/{promotion_id}/{action}/", {"comment": args.comment})
        except Refused as exc:
            if _error_code(exc) != "self_approval":
                raise
            return _fail(action, explain_self_approval(client, promotion_id), exit_codes.REFUSED)
        if args.json:
            print(json.dumps(promotion, indent=2))
            return exit_codes.OK
        text = describe_decision(promotion, PromotionNames(client), action)
    except ValueError as exc:
        return _fail(action, str(exc))
    except (ControlPlaneError, MissingSettings) as exc:
        return _report(action, exc, promotion_id)
    print(text)
    return exit_codes.OK


def describe_decision(promotion: dict[str, Any], names: PromotionNames, action: str) -> str:
    """The promotion's new state after an approval or a rejection, and what it did."""
    where = (f"{names.workflow(promotion)} {names.environment(promotion, 'source')} → "
             f"{names.environment(promotion, 'target')}")
    state = promotion.get("state")
    head = f"promotion {promotion['id']} ({where}): {describe_state(promotion)}"
    if state == "APPROVED":
        digest = short_digest(names.version(promotion).get("image_digest"))
        return f"{head}; version {digest} is deployed to {names.environment(promotion, 'target')}"
    if state == "REJECTED":
        return f"{head}; nothing is deployed"
    if action == "approve":  # approvals counted, more needed
        return f"{head}: your approval is recorded; it waits for another approver"
    return head


def explain_self_approval(client: ApiClient, promotion_id: str) -> str:
    """The four-eyes refusal in words: how the caller made this change, and who must approve it instead."""
    ways: list[str] = []
    project = "the project"
    try:
        promotion = client.get(f"/promotions/{promotion_id}/")
        username = client.get("/me/").get("username")
        if username and promotion.get("requested_by_label") == username:
            ways.append("requested by you")
        if username and promotion.get("requested_for") == username:
            ways.append("requested for you, its author")
        slug = PromotionNames(client).project_slug(promotion)
        project = f"project {slug}" if slug != "?" else project
    except ControlPlaneError:
        pass  # the refusal stands on its own; the details only make it clearer
    how = " and ".join(ways) or "requested by you or for you"
    return (f"refused: you made this change ({how}); another approver of {project} must approve it. Four eyes: "
            "nobody approves their own change. Nothing was approved or deployed; you may still reject it to withdraw it.")


def _report(action: str, exc: Exception, promotion_id: str) -> int:
    """report_error, with what to do next for the refusals specific to promotions."""
    code = report_error(f"flowyard promotions {action}", exc)
    if not isinstance(exc, ControlPlaneError):
        return code
    if exc.status == 404:
        print(f"  no promotion {promotion_id} that you can see: it does not exist or belongs to a project you are "
              "not a member of; `flowyard promotions list PROJECT` shows the ones you can see", file=sys.stderr)
    elif _error_code(exc) == "promotion_decided":
        print(f"  only pending promotions are approved or rejected; `flowyard promotions show {promotion_id}` says "
              "who decided it, and `flowyard promotions request PROJECT/WORKFLOW` asks again", file=sys.stderr)
    return code
