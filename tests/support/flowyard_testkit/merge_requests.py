"""Merge requests end to end, against a live control plane: a bare git repository the team pushes to and CI
checks out from, GitLab's merge-request pipeline variables, the REST API as a person with a personal token, the
registry's digest of a pushed tag, and forge webhook deliveries over real HTTP (`LiveForge`: GitLab's
X-Gitlab-Token, or GitHub's X-Hub-Signature-256 HMAC over the exact body sent), each kept so it can be replayed
byte for byte with its delivery id."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from flowyard_testkit.docker_env import REGISTRY, git, registry_manifest
from flowyard_testkit.pipelines import BRANCH, gitlab_push

TIMEOUT = 30  # seconds, for every HTTP call to the live control plane
GITLAB_PROJECT_URL = "https://gitlab.example.com/analytics/hello"


# -- git -----------------------------------------------------------------------------------------------------------
def bare_repository(path: Path) -> Path:
    """`git init --bare` at `path` (default branch main): the forge's copy of the team's repository."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "--bare", "-b", "main")
    return path


def push(repo: Path, bare: Path, sha: str, branch: str) -> None:
    """Push commit `sha` of `repo` to `branch` of `bare` (a fast-forward; git refuses anything else)."""
    git(repo, "push", "-q", bare.as_uri(), f"{sha}:refs/heads/{branch}")


def branch_head(bare: Path, branch: str) -> str:
    """The commit `branch` of the bare repository points at."""
    return git(bare, "rev-parse", f"refs/heads/{branch}")


def ci_checkout(bare: Path, job_dir: Path, sha: str) -> Path:
    """What a CI runner does before a job: clone the forge's repository (or fetch into the runner's earlier clone)
    and check `sha` out detached; the job's directory."""
    if not job_dir.exists():
        job_dir.parent.mkdir(parents=True, exist_ok=True)
        git(job_dir.parent, "clone", "-q", "--no-checkout", bare.as_uri(), job_dir.name)
    else:
        git(job_dir, "fetch", "-q", "origin")
    git(job_dir, "checkout", "-q", "--detach", sha)
    return job_dir


def commit_change(repo: Path, message: str, change: dict[str, Any]) -> str:
    """Commit `change` merged into the repository's flowyard.json (on the branch checked out); the new sha."""
    config_path = repo / "flowyard.json"
    config = json.loads(config_path.read_text())
    config.update(change)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


# -- CI and the registry -------------------------------------------------------------------------------------------
def gitlab_merge_request_pipeline(sha: str, iid: int, **extra: str) -> dict[str, str]:
    """What GitLab sets in a job of a merge-request pipeline of merge request `iid` from feature/greet into main."""
    return gitlab_push(sha, CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID=str(iid),
                       CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=BRANCH, CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                       CI_MERGE_REQUEST_PROJECT_ID="42", CI_MERGE_REQUEST_SOURCE_PROJECT_ID="42",
                       CI_MERGE_REQUEST_PROJECT_URL=GITLAB_PROJECT_URL, **extra)


def registry_digest(image_ref: str) -> str:
    """The Docker-Content-Digest the test registry serves for `127.0.0.1:5000/<repository>:<tag>`."""
    repository, _, tag = image_ref.removeprefix(f"{REGISTRY}/").rpartition(":")
    digest, _ = registry_manifest(repository, tag)
    return digest


# -- the REST API as a person --------------------------------------------------------------------------------------
@dataclass
class LiveApi:
    """The control plane's REST API at `base_url` with a personal token (`Authorization: Bearer`)."""

    base_url: str
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base_url + path, params=params, headers=self._headers(), timeout=TIMEOUT)

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(self.base_url + path, json=body, headers=self._headers(), timeout=TIMEOUT)


def api_as(live_server, user) -> LiveApi:
    """The live control plane's API as `user`, with a fresh personal token of theirs."""
    from controlplane.tenancy.services import personal_token_create

    _, value = personal_token_create(actor=user, name=f"e2e-{uuid.uuid4().hex[:6]}")
    return LiveApi(live_server.url.replace("localhost", "127.0.0.1"), value)


# -- forge deliveries over HTTP ------------------------------------------------------------------------------------
def live_headers(forge: str, secret: str, body: bytes, *, event: str, delivery_id: str) -> dict[str, str]:
    """The headers a forge sends with a webhook delivery of `body` (GitLab's token; GitHub's body signature)."""
    if forge == "gitlab":
        return {"Content-Type": "application/json", "User-Agent": "GitLab/17.5.0", "X-Gitlab-Event": event,
                "X-Gitlab-Event-UUID": delivery_id, "X-Gitlab-Token": secret}
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/1a2b3c4", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id, "X-GitHub-Hook-ID": "4711", "X-Hub-Signature-256": signature}


@dataclass
class LiveForge:
    """A forge delivering a linked repository's webhooks to its `webhook_url` (as the link's create answer gave
    it) with the link's secret. Every delivery is kept by its id: `replay(id)` sends the same bytes again."""

    forge: str
    webhook_url: str
    secret: str
    sent: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_link(cls, answer: dict[str, Any]) -> LiveForge:
        """The forge of a `POST /api/v1/gitops/repositories/` answer (webhook_url and the secret shown once)."""
        return cls(forge=answer["forge"], webhook_url=answer["webhook_url"], secret=answer["webhook_secret"])

    def deliver(self, payload: Any, *, event: str | None = None, delivery_id: str | None = None) -> requests.Response:
        """POST `payload` as the forge does (a new delivery id unless given)."""
        body = json.dumps(payload).encode()
        default_event = "Merge Request Hook" if self.forge == "gitlab" else "pull_request"
        delivery_id = delivery_id or str(uuid.uuid4())
        headers = live_headers(self.forge, self.secret, body, event=event or default_event, delivery_id=delivery_id)
        self.sent[delivery_id] = (body, headers)
        return requests.post(self.webhook_url, data=body, headers=headers, timeout=TIMEOUT)

    def replay(self, delivery_id: str) -> requests.Response:
        """Send delivery `delivery_id` again, byte for byte (a forge's "redeliver" button)."""
        body, headers = self.sent[delivery_id]
        return requests.post(self.webhook_url, data=body, headers=headers, timeout=TIMEOUT)
