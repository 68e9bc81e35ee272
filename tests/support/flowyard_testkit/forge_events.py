"""Forge webhook deliveries as GitLab and GitHub send them: payloads (GitHub's from @octokit/webhooks-examples,
GitLab's shaped after its documented Merge Request Hook), the headers, the secret or signature."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from typing import Any

from flowyard_testkit.pipelines import GITHUB_REPOSITORY, github_example

GITLAB_HOST = "https://gitlab.example.com"


def gitlab_merge_request_hook(action: str, *, iid: int, sha: str, actor: str, repository: str,
                              source_branch: str = "feature/greet", target_branch: str = "main",
                              source_project_id: int = 42, target_project_id: int = 42,
                              title: str = "Greet everyone") -> dict[str, Any]:
    """GitLab's `Merge Request Hook` payload for `action` (open, update, approved, unapproved, merge, close) by
    `actor`, with the fields GitLab documents (object_attributes.iid, url, last_commit.id, source/target)."""
    url = f"{GITLAB_HOST}/{repository}/-/merge_requests/{iid}"
    state = {"merge": "merged", "close": "closed"}.get(action, "opened")
    return {
        "object_kind": "merge_request", "event_type": "merge_request",
        "user": {"id": abs(hash(actor)) % 10_000, "name": actor.title(), "username": actor,
                 "email": "[REDACTED]"},
        "project": {"id": target_project_id, "path_with_namespace": repository, "web_url": f"{GITLAB_HOST}/{repository}",
                    "default_branch": "main"},
        "object_attributes": {
            "id": 90_000 + iid, "iid": iid, "title": title, "url": url, "state": state, "action": action,
            "source_branch": source_branch, "target_branch": target_branch, "source_project_id": source_project_id,
            "target_project_id": target_project_id, "author_id": 17, "merge_status": "can_be_merged",
            "last_commit": {"id": sha, "message": title, "url": f"{GITLAB_HOST}/{repository}/-/commit/{sha}"},
        },
        "repository": {"name": repository.split("/")[-1], "homepage": f"{GITLAB_HOST}/{repository}"},
    }


def github_pull_request_event(action: str, *, number: int, sha: str, author: str, sender: str | None = None,
                              head_repository: str = GITHUB_REPOSITORY, merged: bool = False) -> dict[str, Any]:
    """GitHub's `pull_request` payload (octokit's recorded example of `action`) for pull request `number` at `sha`."""
    payload = copy.deepcopy(github_example("pull_request", lambda example: example.get("action") == action))
    pull = payload["pull_request"]
    payload["number"] = pull["number"] = number
    pull["html_url"] = f"https://github.com/{GITHUB_REPOSITORY}/pull/{number}"
    pull["user"]["login"] = author
    payload["sender"]["login"] = sender or author
    pull["head"].update(sha=sha, ref="feature/greet")
    pull["base"]["ref"] = "main"
    if head_repository != GITHUB_REPOSITORY:
        pull["head"]["repo"] = {**pull["head"]["repo"], "full_name": head_repository, "fork": True}
    pull["merged"] = merged
    return payload


def github_review_event(action: str, *, number: int, sha: str, author: str, reviewer: str) -> dict[str, Any]:
    """GitHub's `pull_request_review` payload: `submitted` with state approved, or `dismissed`, by `reviewer`."""
    payload = copy.deepcopy(github_example("pull_request_review", lambda example: example.get("action") == action))
    payload["review"].update(state="approved" if action == "submitted" else "dismissed", commit_id=sha)
    payload["review"]["user"]["login"] = payload["sender"]["login"] = reviewer
    pull = payload["pull_request"]
    pull["number"] = number
    pull["html_url"] = f"https://github.com/{GITHUB_REPOSITORY}/pull/{number}"
    pull["user"]["login"] = author
    pull["head"].update(sha=sha, ref="feature/greet")
    pull["base"]["ref"] = "main"
    return payload


def gitlab_headers(secret: str | None, *, delivery_id: str | None = None,
                   event: str = "Merge Request Hook") -> dict[str, str]:
    """The headers of a GitLab delivery (HTTP_ form, for Django's test client)."""
    headers = {"HTTP_X_GITLAB_EVENT": event, "HTTP_X_GITLAB_EVENT_UUID": delivery_id or str(uuid.uuid4()),
               "HTTP_USER_AGENT": "GitLab/17.5.0"}
    if secret is not None:
        headers["HTTP_X_GITLAB_TOKEN"] = secret
    return headers


def github_headers(secret: str | None, body: bytes, *, event: str, delivery_id: str | None = None) -> dict[str, str]:
    """The headers of a GitHub delivery, signed with `secret` (none when it is None)."""
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery_id or str(uuid.uuid4()),
               "HTTP_USER_AGENT": "GitHub-Hookshot/1a2b3c4"}
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return headers


def deliver(client, link, secret: str | None, payload: Any, *, event: str | None = None,
            delivery_id: str | None = None, raw: bytes | None = None):
    """POST a delivery to `link`'s receiver as its forge would (GitLab's token or GitHub's signature)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    if link.forge == "gitlab":
        headers = gitlab_headers(secret, delivery_id=delivery_id, event=event or "Merge Request Hook")
    else:
        headers = github_headers(secret, body, event=event or "pull_request", delivery_id=delivery_id)
    return client.post(f"/api/v1/gitops/{link.forge}/{link.pk}/events", data=body, content_type="application/json",
                       **headers)
