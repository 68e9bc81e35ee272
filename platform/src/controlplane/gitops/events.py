"""The forges' webhook payloads, read into one shape: `read_event(forge, event_header, payload)` → `ForgeEvent`.

GitLab: `X-Gitlab-Event: Merge Request Hook` (object_kind merge_request; actions open, reopen, update, approved /
approval, unapproved / unapproval, merge, close). GitHub: `X-GitHub-Event: pull_request` (opened, reopened,
synchronize, closed with or without `merged`) and `pull_request_review` (submitted with state approved,
dismissed). Everything else is `Kind.OTHER`, which the receiver answers 202 and ignores. Pure: no database.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventError(ValueError):
    """A payload of a known kind lacks a field the forge always sends."""


class Kind(StrEnum):
    """What happened to the merge request."""

    OPENED = "opened"  # opened or reopened
    UPDATED = "updated"  # new commits (or other edits: the head sha says which)
    APPROVED = "approved"
    UNAPPROVED = "unapproved"
    MERGED = "merged"
    CLOSED = "closed"  # closed without merging
    OTHER = "other"


@dataclass(frozen=True)
class ForgeEvent:
    """One merge-request event: the merge request as the event shows it, and who did what."""

    kind: Kind
    name: str  # the forge's event name and action, for the delivery log
    action: str = ""
    iid: int | None = None
    url: str = ""
    title: str = ""
    author: str = ""  # who opened the merge request ("" when the event does not say)
    actor: str = ""  # who did this (approved, merged, pushed…)
    source_branch: str = ""
    target_branch: str = ""
    head_sha: str = ""
    from_fork: bool = False
    approved_sha: str = ""  # the commit an approval is about (GitHub's review.commit_id), when the event says


def _need(mapping: Any, *path: str) -> Any:
    value = mapping
    for key in path:
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise EventError(f"the payload has no {'.'.join(path)}")
        value = value[key]
    return value


GITLAB_KINDS = {"open": Kind.OPENED, "reopen": Kind.OPENED, "update": Kind.UPDATED, "approved": Kind.APPROVED,
                "approval": Kind.APPROVED, "unapproved": Kind.UNAPPROVED, "unapproval": Kind.UNAPPROVED,
                "merge": Kind.MERGED, "close": Kind.CLOSED}


def _gitlab(event_header: str, payload: dict[str, Any]) -> ForgeEvent:
    if event_header != "Merge Request Hook" or payload.get("object_kind") != "merge_request":
        return ForgeEvent(Kind.OTHER, name=event_header or str(payload.get("object_kind", "")))
    attributes = _need(payload, "object_attributes")
    action = str(attributes.get("action") or "")
    kind = GITLAB_KINDS.get(action, Kind.OTHER)
    source, target = attributes.get("source_project_id"), attributes.get("target_project_id")
    actor = str((payload.get("user") or {}).get("username") or "")
    return ForgeEvent(
        kind=kind, name="merge_request", action=action, iid=int(_need(attributes, "iid")),
        url=str(attributes.get("url") or ""), title=str(attributes.get("title") or ""),
        author=actor if kind is Kind.OPENED and action == "open" else "",
        actor=actor, source_branch=str(_need(attributes, "source_branch")),
        target_branch=str(_need(attributes, "target_branch")), head_sha=str(_need(attributes, "last_commit", "id")),
        from_fork=bool(source and target and source != target),
    )


def _github_pull(payload: dict[str, Any]) -> dict[str, Any]:
    pull = _need(payload, "pull_request")
    _need(pull, "head", "sha")
    return pull


GITHUB_PULL_KINDS = {"opened": Kind.OPENED, "reopened": Kind.OPENED, "synchronize": Kind.UPDATED}


def _github(event_header: str, payload: dict[str, Any]) -> ForgeEvent:
    action = str(payload.get("action") or "")
    if event_header == "pull_request" and (action == "closed" or action in GITHUB_PULL_KINDS):
        pull = _github_pull(payload)
        kind = (Kind.MERGED if pull.get("merged") else Kind.CLOSED) if action == "closed" else GITHUB_PULL_KINDS[action]
        return _github_event(kind, event_header, action, payload, pull)
    if event_header == "pull_request_review":
        review = payload.get("review") or {}
        if action == "submitted" and str(review.get("state", "")).lower() == "approved":
            kind = Kind.APPROVED
        elif action == "dismissed":
            kind = Kind.UNAPPROVED
        else:
            return ForgeEvent(Kind.OTHER, name=event_header, action=action)
        event = _github_event(kind, event_header, action, payload, _github_pull(payload))
        return dataclasses.replace(event, actor=str((review.get("user") or {}).get("login") or ""),
                                   approved_sha=str(review.get("commit_id") or ""))
    return ForgeEvent(Kind.OTHER, name=event_header, action=action)


def _github_event(kind: Kind, name: str, action: str, payload: dict[str, Any], pull: dict[str, Any]) -> ForgeEvent:
    head, base = pull.get("head") or {}, pull.get("base") or {}
    head_repo = str((head.get("repo") or {}).get("full_name") or "")
    base_repo = str((base.get("repo") or {}).get("full_name") or (payload.get("repository") or {}).get("full_name")
                    or "")
    return ForgeEvent(
        kind=kind, name=name, action=action, iid=int(payload.get("number") or _need(pull, "number")),
        url=str(pull.get("html_url") or ""), title=str(pull.get("title") or ""),
        author=str((pull.get("user") or {}).get("login") or ""),
        actor=str((payload.get("sender") or {}).get("login") or ""),
        source_branch=str(head.get("ref") or ""), target_branch=str(base.get("ref") or ""),
        head_sha=str(head["sha"]), from_fork=bool(head_repo and base_repo and head_repo.lower() != base_repo.lower()),
    )


def read_event(forge: str, event_header: str, payload: Any) -> ForgeEvent:
    """The event a forge delivered (`event_header`: X-Gitlab-Event or X-GitHub-Event). EventError when a
    merge-request event lacks what the forge always sends."""
    if not isinstance(payload, dict):
        raise EventError("the payload is not a JSON object")
    return _gitlab(event_header, payload) if forge == "gitlab" else _github(event_header, payload)
