"""The handlers of `flowyard promotions` (four eyes: whoever made a change never approves it), refusals in words."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import ApiClient, MissingSettings, client_from_args, report_error
from flowyard_builder.commands.promotions.describing import describe_decision, describe_promotion, describe_request
from flowyard_builder.commands.promotions.formatting import (
    CI_TOKEN_PREFIX,
    DEFAULT_SOURCE,
    DEFAULT_TARGET,
    describe_state,
    format_age,
    requested_by_and_for,
    short_digest,
    short_id,
)
from flowyard_builder.commands.promotions.lookups import (
    PromotionNames,
    client_for,
    decided_by,
    environment_id,
    is_uuid,
    resolve_promotion_id,
)
from flowyard_builder.commands.runs import format_table
from flowyard_builder.control_plane import ControlPlaneError, Refused


def _fail(command: str, message: str, code: int = exit_codes.INVALID_INPUT) -> int:
    print(f"flowyard promotions {command}: {message}", file=sys.stderr)
    return code


def _error_code(exc: ControlPlaneError) -> str:
    return str(exc.body.get("code") or "")


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
        names = [value for value in (workflow, args.source, args.destination) if not is_uuid(value)]
        if client.token.startswith(CI_TOKEN_PREFIX) and names:
            return _fail("request", f"a CI token cannot look up names ({', '.join(names)}): give the workflow's and "
                                    "the environments' ids (PROJECT/WORKFLOW_ID --from ENV_ID --to ENV_ID), or use a "
                                    "personal token (fyp_…)")
        project = client.project(project_slug) if names else {}
        workflow_id = workflow if is_uuid(workflow) else client.workflow(project, workflow)["id"]
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
