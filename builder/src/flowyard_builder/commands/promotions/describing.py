"""What `flowyard promotions` prints for a promotion: in full (`show`), just requested, just approved or rejected."""

from __future__ import annotations

import argparse
import json
from typing import Any

from flowyard_builder.api_client import local_time
from flowyard_builder.commands.promotions.formatting import (
    approval_counts,
    describe_state,
    requested_by_and_for,
    requester_and_author,
    short_digest,
    short_id,
)
from flowyard_builder.commands.promotions.lookups import PromotionNames, is_uuid

# Fields `show` prints in its own words; any other field the API adds is printed as it comes.
DESCRIBED_FIELDS = frozenset({
    "id", "workflow", "workflow_name", "version", "image_digest", "source_environment", "source_environment_name",
    "target_environment", "target_environment_name", "state", "requested_by_label", "requested_for", "decided_at",
    "decided_by", "decided_by_label", "comment", "merge_request_url", "merge_request_iid", "approvals",
    "required_approvals", "condition", "created_at", "updated_at",
})


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


def describe_request(promotion: dict[str, Any], names: PromotionNames, args: argparse.Namespace) -> str:
    """The new promotion in one line, and who may approve it."""
    source = names.environment(promotion, "source") if is_uuid(args.source) else args.source
    target = names.environment(promotion, "target") if is_uuid(args.destination) else args.destination
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
