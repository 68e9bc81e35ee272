"""GitHub's REST API (github.com or GitHub Enterprise Server): commit statuses and pull request comments."""

from __future__ import annotations

import time

import requests

from controlplane.gitops.forges.base import CommitState, ForgeClient, parse_retry_after

GITHUB_API_VERSION = "2022-11-28"
GITHUB_STATES = {
    CommitState.PENDING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "error",
}


class GitHubClient(ForgeClient):
    """GitHub's API; `api_url` is https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server."""

    forge_name = "GitHub"
    description_limit = 140

    def _auth_headers(self, token: str) -> dict[str, str]:
        """A bearer token (a GitHub App installation token or a personal access token)."""
        return {"Authorization": f"Bearer {token}"}

    def _headers(self) -> dict[str, str]:
        """GitHub's media type and the API version these calls were written against."""
        return {**super()._headers(), "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": GITHUB_API_VERSION}

    def _is_rate_limited(self, response: requests.Response) -> bool:
        """GitHub answers an exhausted or secondary rate limit with 403 too, saying so in its headers."""
        return response.status_code == 403 and (
            response.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in response.headers)

    def _retry_after(self, response: requests.Response) -> float | None:
        """Retry-After, else the time until X-RateLimit-Reset (epoch seconds) when no request is left."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        reset = response.headers.get("X-RateLimit-Reset", "")
        if response.headers.get("X-RateLimit-Remaining") == "0" and reset.isdigit():
            return max(0.0, int(reset) - time.time())
        return None

    def _send_commit_status(self, *, repository: str, sha: str, context: str, state: CommitState,
                            description: str, target_url: str) -> None:
        """POST /repos/{owner}/{repo}/statuses/{sha}."""
        payload = {"state": GITHUB_STATES[state], "context": context, "description": description}
        if target_url:
            payload["target_url"] = target_url
        self._request("POST", f"/repos/{repository}/statuses/{sha}", payload)

    def _create_comment(self, *, repository: str, merge_request: int, body: str) -> str:
        """POST /repos/{owner}/{repo}/issues/{number}/comments (a pull request is an issue); the comment's id."""
        path = f"/repos/{repository}/issues/{merge_request}/comments"
        return self._comment_id_of(self._request("POST", path, {"body": body}), "POST", path)

    def _update_comment(self, *, repository: str, merge_request: int, comment_id: str, body: str) -> None:
        """PATCH /repos/{owner}/{repo}/issues/comments/{id}."""
        self._request("PATCH", f"/repos/{repository}/issues/comments/{comment_id}", {"body": body})
