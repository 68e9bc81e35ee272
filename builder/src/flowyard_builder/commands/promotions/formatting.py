"""Constants of `flowyard promotions` and a promotion's text needing no look-up: short ids, digests, ages, state."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flowyard_builder.api_client import parse_time

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
