"""CI pipelines for tests of `flowyard ci` and the templates: a team's repository made from examples/hello, the
variables GitLab and GitHub set for a push (and GitHub's for a pull request, with event payloads from
@octokit/webhooks-examples), an image repository of the test's own, and the command itself."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowyard_testkit.docker_env import git

ROOT = Path(__file__).resolve().parents[3]
FLOWYARD = str(Path(sys.executable).parent / "flowyard")
BRANCH = "feature/greet"
CI_PREFIXES = ("GITLAB_", "GITHUB_", "CI_")


def example_checkout(tmp_path: Path, *, detached: bool = True) -> tuple[Path, str]:
    """examples/hello as a team's repository with one commit on feature/greet; (path, commit sha).

    Detached, as GitLab and actions/checkout check out: the branch is only known from the CI's variables."""
    repo = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", repo)
    (repo / ".gitignore").write_text(".flowyard/\n.gitlab-ci-local/\n")
    git(repo, "init", "-q", "-b", BRANCH)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Say hello")
    sha = git(repo, "rev-parse", "HEAD")
    if detached:
        git(repo, "checkout", "-q", "--detach", sha)
    return repo, sha


def own_image_repository(registry: str, name: str = "pipeline") -> str:
    """An image repository in the test registry that no other test or session pushes to or deletes from.

    The example builds reproducibly, so two sessions would push the same digest; a registry deletes manifests
    per repository, so each test's clean-up must not reach another's."""
    return f"{registry}/flowyard-test/{name}-{uuid.uuid4().hex[:8]}"


def job_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any CI's variables, plus `variables`."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(CI_PREFIXES) and key != "CI"}
    return {**inherited, **variables}


def flowyard_settings(live_server, token: str, project: str, image_repository: str, **extra: str) -> dict[str, str]:
    """The FLOWYARD_* variables a project sets for its pipelines."""
    return {"FLOWYARD_API_URL": live_server.url.replace("localhost", "127.0.0.1"), "FLOWYARD_CI_TOKEN": token,
            "FLOWYARD_PROJECT": project, "FLOWYARD_REGISTRY_IMAGE": image_repository, **extra}


def gitlab_push(sha: str, **extra: str) -> dict[str, str]:
    """What GitLab sets in a job of a push pipeline on feature/greet."""
    return {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_SHA": sha, "CI_COMMIT_REF_NAME": BRANCH,
            "CI_COMMIT_BRANCH": BRANCH, "CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push",
            "CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "analytics/hello", "GITLAB_USER_LOGIN": "ada",
            "CI_PIPELINE_URL": "https://gitlab.example.com/analytics/hello/-/pipelines/7", **extra}


def github_push(sha: str, event_dir: Path, **extra: str) -> dict[str, str]:
    """What GitHub Actions sets in a job of a `push` workflow run on feature/greet, the event payload in a file."""
    event = {"ref": f"refs/heads/{BRANCH}", "after": sha, "pusher": {"name": "grace"},
             "repository": {"full_name": "analytics/hello", "default_branch": "main"},
             "head_commit": {"id": sha, "message": "Say hello"}}
    path = event_dir / "event.json"
    path.write_text(json.dumps(event))
    return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(path),
            "GITHUB_SHA": sha, "GITHUB_REF": f"refs/heads/{BRANCH}", "GITHUB_REF_NAME": BRANCH,
            "GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "analytics/hello", "GITHUB_ACTOR": "grace",
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "99", **extra}


def run_flowyard_ci(repo: Path, environ: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`flowyard ci ARGS` in `repo` with `environ`, as a CI job runs it."""
    return subprocess.run([FLOWYARD, "ci", *args], cwd=repo, env=environ, capture_output=True, text=True,
                          timeout=timeout)


# -- GitHub's event payloads as GitHub sends them -----------------------------------------------------------------

WEBHOOKS_EXAMPLES = Path(os.environ.get("FLOWYARD_WEBHOOKS_EXAMPLES",
                                        "/var/lib/flowyard/npm/node_modules/@octokit/webhooks-examples"))
EXAMPLE_REPOSITORY = "Codertocat/Hello-World"  # the repository octokit's examples were recorded in
GITHUB_REPOSITORY = "analytics/hello"


@functools.lru_cache(maxsize=1)
def _webhooks_examples() -> str:
    index = WEBHOOKS_EXAMPLES / "api.github.com" / "index.json"
    if not index.exists():
        import pytest

        pytest.fail(f"{index} is missing: run scripts/provision (it installs @octokit/webhooks-examples with npm)",
                    pytrace=False)
    return index.read_text(encoding="utf-8")


def github_example(event: str, match: Callable[[dict], bool] = lambda example: True) -> dict[str, Any]:
    """The first payload of webhook `event` in the npm package @octokit/webhooks-examples that `match` accepts (a
    fresh copy), its repository renamed analytics/hello everywhere (full name and every URL); the caller replaces
    the rest (shas, numbers, branches, people)."""
    text = _webhooks_examples().replace(EXAMPLE_REPOSITORY, GITHUB_REPOSITORY)
    for kind in json.loads(text):
        if kind["name"] == event:
            for example in kind["examples"]:
                if match(example):
                    for repository in _repositories(example):
                        owner, name = GITHUB_REPOSITORY.split("/")
                        repository.update(name=name, default_branch="main", master_branch="main")
                        repository.get("owner", {})["login"] = owner
                    return example
    raise LookupError(f"@octokit/webhooks-examples has no {event} example that matches")


def _repositories(example: dict[str, Any]) -> list[dict[str, Any]]:
    pull = example.get("pull_request") or {}
    found = [example.get("repository"), (pull.get("base") or {}).get("repo"), (pull.get("head") or {}).get("repo")]
    return [repository for repository in found
            if repository and repository.get("full_name") == GITHUB_REPOSITORY]


def _github_job(event_name: str, payload: dict[str, Any], path: Path, actor: str, sha: str, ref: str,
                **extra: str) -> dict[str, str]:
    path.write_text(json.dumps(payload, indent=2))
    return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(path),
            "GITHUB_SHA": sha, "GITHUB_REF": ref, "GITHUB_REF_NAME": ref.split("/", 2)[2], "GITHUB_REF_TYPE": "branch",
            "GITHUB_REPOSITORY": GITHUB_REPOSITORY, "GITHUB_REPOSITORY_OWNER": GITHUB_REPOSITORY.split("/")[0],
            "GITHUB_ACTOR": actor, "GITHUB_TRIGGERING_ACTOR": actor, "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com", "GITHUB_WORKFLOW": "flowyard", "GITHUB_RUN_ID": "99",
            "GITHUB_RUN_ATTEMPT": "1", **extra}


def github_pull_request(sha: str, event_dir: Path, *, number: int = 7, action: str = "opened",
                        author: str = "edsger", head_repository: str = GITHUB_REPOSITORY,
                        **extra: str) -> dict[str, str]:
    """What GitHub Actions sets in a job of a `pull_request` workflow run: pull request `number` from feature/greet
    at `sha` into main, opened by `author` in `head_repository` (another one: a fork), the event `action`
    (opened, synchronize, closed, …). The payload is octokit's recorded example of that action with this
    repository, sha, number, branches and author put in, written to event_dir/pull_request.<action>.json.
    GITHUB_SHA is the merge commit GitHub makes, as in a real pull-request run; the head's sha is in the payload."""
    payload = github_example("pull_request", lambda example: example.get("action") == action)
    pull = payload["pull_request"]
    url = f"https://github.com/{GITHUB_REPOSITORY}/pull/{number}"
    payload["number"] = pull["number"] = number
    pull.update(html_url=url, diff_url=f"{url}.diff", patch_url=f"{url}.patch",
                url=f"https://api.github.com/repos/{GITHUB_REPOSITORY}/pulls/{number}")
    pull["user"]["login"] = payload["sender"]["login"] = author
    head, base = pull["head"], pull["base"]
    head.update(sha=sha, ref=BRANCH, label=f"{head_repository.split('/')[0]}:{BRANCH}")
    if head_repository != GITHUB_REPOSITORY:
        head["repo"] = {**head["repo"], "full_name": head_repository, "name": head_repository.split("/")[1],
                        "fork": True, "owner": {**head["repo"]["owner"], "login": head_repository.split("/")[0]}}
    base.update(ref="main", label=f"{GITHUB_REPOSITORY.split('/')[0]}:main")
    merge = hashlib.sha1(f"merge of {sha} into main".encode()).hexdigest()
    return _github_job("pull_request", payload, event_dir / f"pull_request.{action}.json", author, merge,
                       f"refs/pull/{number}/merge", GITHUB_HEAD_REF=BRANCH, GITHUB_BASE_REF="main", **extra)


def github_default_branch_push(sha: str, event_dir: Path, *, pusher: str = "grace", **extra: str) -> dict[str, str]:
    """What GitHub Actions sets in a job of a `push` workflow run for `sha` pushed to main, the default branch, by
    `pusher`: octokit's recorded branch-push example with this repository, sha and pusher, in event_dir/push.json."""
    payload = github_example("push", lambda example: example["ref"].startswith("refs/heads/")
                             and example.get("head_commit"))
    before = hashlib.sha1(f"parent of {sha}".encode()).hexdigest()
    payload.update(ref="refs/heads/main", before=before, after=sha, created=False, deleted=False, forced=False,
                   compare=f"https://github.com/{GITHUB_REPOSITORY}/compare/{before[:12]}...{sha[:12]}")
    payload["head_commit"].update(id=sha, tree_id=hashlib.sha1(sha.encode()).hexdigest(),
                                  url=f"https://github.com/{GITHUB_REPOSITORY}/commit/{sha}")
    payload["commits"] = [payload["head_commit"]]
    payload["pusher"]["name"] = payload["sender"]["login"] = pusher
    return _github_job("push", payload, event_dir / "push.json", pusher, sha, "refs/heads/main", **extra)
