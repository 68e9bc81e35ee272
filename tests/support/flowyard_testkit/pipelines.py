"""CI pipelines for tests of `flowyard ci` and the templates: a team's repository made from examples/hello, the
variables GitLab and GitHub set for a push, an image repository of the test's own, and the command itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

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
