"""GitLab's REST API (v4): commit statuses and merge request notes, authenticated with a PRIVATE-TOKEN header."""

from __future__ import annotations

import re
from urllib.parse import quote

from controlplane.gitops.forges.base import CommitState, ForgeClient, ForgeRefused

GITLAB_STATES = {
    CommitState.PENDING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "failed",  # GitLab has no "error": a failed status is what a reader should see
}
# GitLab refuses pending over a pending (or running) status of the same name with this 400, where GitHub
# accepts it: the commit already shows the state asked for, so setting it again is done, not failed.
ALREADY_PENDING = re.compile(r"Cannot transition status via :enqueue from :(pending|running)\b")


class GitLabClient(ForgeClient):
    """A GitLab instance's API; `api_url` ends in /api/v4 (https://gitlab.com/api/v4)."""

    forge_name = "GitLab"
    description_limit = 255
    nested_groups = True

    def _auth_headers(self, token: str) -> dict[str, str]:
        """GitLab's personal, project or group access token header."""
        return {"PRIVATE-TOKEN": token}

    @staticmethod
    def project_path(repository: str) -> str:
        """'/projects/<id>' where the id is the URL-encoded path (group%2Fsub%2Fname)."""
        return f"/projects/{quote(repository, safe='')}"

    def _send_commit_status(self, *, repository: str, sha: str, context: str, state: CommitState,
                            description: str, target_url: str) -> None:
        """POST /projects/:id/statuses/:sha; a pending status over a pending one counts as set."""
        payload = {"state": GITLAB_STATES[state], "name": context, "description": description}
        if target_url:
            payload["target_url"] = target_url
        try:
            self._request("POST", f"{self.project_path(repository)}/statuses/{sha}", payload)
        except ForgeRefused as refused:
            if not (state is CommitState.PENDING and refused.status == 400 and ALREADY_PENDING.search(str(refused))):
                raise

    def _create_comment(self, *, repository: str, merge_request: int, body: str) -> str:
        """POST /projects/:id/merge_requests/:iid/notes; the note's id."""
        path = f"{self.project_path(repository)}/merge_requests/{merge_request}/notes"
        return self._comment_id_of(self._request("POST", path, {"body": body}), "POST", path)

    def _update_comment(self, *, repository: str, merge_request: int, comment_id: str, body: str) -> None:
        """PUT /projects/:id/merge_requests/:iid/notes/:note_id."""
        self._request("PUT", f"{self.project_path(repository)}/merge_requests/{merge_request}/notes/{comment_id}",
                      {"body": body})
