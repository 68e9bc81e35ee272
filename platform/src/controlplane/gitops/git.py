"""Reading a linked repository with GitPython: what its default branch's head says each workflow is.

`fetch_desired(link)` fetches the link's default branch into a bare repository kept per link under the data
directory (later fetches are incremental), and reads each listed workflow's `<path>/flowyard.json` at the head
commit, without a work tree. Git runs with no user or system config, no prompts, no credential helpers and only
the http(s), ssh and git protocols (and file:// outside production); a repository it cannot fetch raises
`RepositoryUnreachable` with git's own message (any credentials in the URL blanked), a config it cannot read
`RepositoryMalformed` naming the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import git
from django.conf import settings
from pydantic import ValidationError

from controlplane.gitops.errors import GitopsError
from controlplane.gitops.models import RepositoryLink
from flowyard_spec.config import canonical_config, config_errors

CONFIG_FILE = "flowyard.json"
HEAD_REF = "refs/flowyard/head"
FETCH_TIMEOUT_SECONDS = 120
MAX_CONFIG_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 2000
# The commits whose builds count for an unchanged workflow: at most this many since its folder last changed.
MAX_COMMITS_SINCE_CHANGE = 200
CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


class RepositoryUnreachable(GitopsError):
    """Git could not fetch the link's branch: its message says why (credentials blanked)."""

    code = "repository_unreachable"
    http_status = 502


class RepositoryMalformed(GitopsError):
    """The branch head holds a flowyard.json that cannot be read: the message names the file and the problem."""

    code = "repository_malformed"
    http_status = 422


@dataclass(frozen=True)
class DesiredWorkflow:
    """What the head commit says of one workflow the link lists.

    `config` is its flowyard.json as the schema reads it (None: the file is gone); `commits` are the commits whose
    CI build is the one Git wants, newest first: the head, back to the last commit that changed its folder."""

    name: str
    path: str
    config: dict[str, Any] | None
    commits: tuple[str, ...] = ()

    @property
    def config_path(self) -> str:
        """Where its flowyard.json is in the repository."""
        return _config_path(self.path)


@dataclass(frozen=True)
class DesiredState:
    """The head of the link's default branch and what it says of each listed workflow."""

    branch: str
    head_sha: str
    workflows: dict[str, DesiredWorkflow] = field(default_factory=dict)


def redact(text: str, clone_url: str = "") -> str:
    """`text` without the credentials of any URL in it (user:token@ becomes ***@)."""
    parts = urlsplit(clone_url) if "://" in clone_url else None
    if parts is not None and parts.password:
        text = text.replace(parts.password, "***")
    return CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", text)


def shown_url(clone_url: str) -> str:
    """The clone URL as messages may show it: without credentials."""
    return redact(clone_url, clone_url)


def _config_path(folder: str) -> str:
    return posixpath.normpath(posixpath.join(folder or ".", CONFIG_FILE))


def _allowed_protocols() -> str:
    protocols = ["https", "http", "ssh", "git"]
    if settings.FLOWYARD.mode != "production":
        protocols.append("file")  # a repository on this machine: tests and the demo
    return ":".join(protocols)


def _git_environment(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_ALLOW_PROTOCOL": _allowed_protocols(),
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
        "GIT_HTTP_LOW_SPEED_TIME": "30",
    }


def cache_root() -> Path:
    """Where the per-link bare repositories are kept."""
    return Path(settings.DATA_DIR) / "gitops" / "repositories"


def _git_message(exc: Exception, clone_url: str) -> str:
    if isinstance(exc, git.GitCommandError):
        stderr = exc.stderr.strip()
        stderr = stderr.removeprefix("stderr: '").removesuffix("'").strip()
        text = stderr or f"git exited with {exc.status}"
    else:
        text = str(exc)
    return redact(text, clone_url)[:MAX_MESSAGE_CHARS]


def _refuse_reserved_host(clone_url: str) -> None:
    """RFC 6761: names under .invalid never resolve, so no lookup is sent for them (tests' placeholder links)."""
    host = urlsplit(clone_url).hostname if "://" in clone_url else clone_url.partition("@")[2].partition(":")[0]
    host = (host or "").lower().rstrip(".")
    if host == "invalid" or host.endswith(".invalid"):
        raise RepositoryUnreachable(
            f"fatal: unable to access '{shown_url(clone_url)}': Could not resolve host: {host} "
            "(.invalid names never resolve; no lookup was made)", extra={"clone_url": shown_url(clone_url)})


@contextmanager
def _locked_repository(link: RepositoryLink):
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{link.pk}.git"
    with open(root / f"{link.pk}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the periodic sync and an API call may fetch the same link at once
        try:
            repo = git.Repo(path) if (path / "HEAD").exists() else git.Repo.init(path, bare=True)
        except git.GitError as exc:  # a broken cache: start again
            raise RepositoryUnreachable(f"the local copy of the repository is unreadable: {exc}") from None
        try:
            yield repo
        finally:
            repo.close()
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch(repo: git.Repo, link: RepositoryLink) -> str:
    url, branch = link.clone_url, link.default_branch
    if url.startswith("-") or not branch or branch.startswith("-") or re.search(r"[\s:~^?*\[\\]", branch):
        raise RepositoryUnreachable(f"cannot fetch branch {branch!r} of {shown_url(url)}",
                                    extra={"clone_url": shown_url(url)})
    _refuse_reserved_host(url)
    environment = _git_environment(Path(repo.git_dir))
    try:
        repo.git.execute(
            ["git", "fetch", "--no-tags", "--force", "--end-of-options", url, f"+refs/heads/{branch}:{HEAD_REF}"],
            env=environment, kill_after_timeout=FETCH_TIMEOUT_SECONDS)
        return repo.git.execute(["git", "rev-parse", "--verify", f"{HEAD_REF}^{{commit}}"], env=environment).strip()
    except (git.GitCommandError, git.GitCommandNotFound) as exc:
        raise RepositoryUnreachable(_git_message(exc, url), extra={"clone_url": shown_url(url),
                                                                   "branch": branch}) from None


def _read_config(commit: git.Commit, path: str) -> tuple[dict[str, Any] | None, str]:
    """The workflow's config at `commit` (None when the file is gone), or a problem saying why it is unreadable."""
    try:
        blob = commit.tree / path
    except KeyError:
        return None, ""
    if blob.type != "blob":
        return None, f"{path} is a {blob.type}, not a file"
    if blob.size > MAX_CONFIG_BYTES:
        return None, f"{path} is {blob.size} bytes, over the {MAX_CONFIG_BYTES} byte limit"
    try:
        raw = json.loads(blob.data_stream.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path} is not JSON: {exc}"
    if not isinstance(raw, dict):
        return None, f"{path} must be a JSON object"
    try:
        return canonical_config(raw), ""
    except ValidationError as exc:
        problems = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in config_errors(exc).items())
        return None, f"{path} is not a valid config: {problems}"


def _commits_since_change(repo: git.Repo, head: str, folder: str) -> tuple[str, ...]:
    """The head and the commits before it back to the last one that changed `folder` (whose builds are the same)."""
    environment = _git_environment(Path(repo.git_dir))
    last_change = repo.git.execute(["git", "rev-list", "-n", "1", head, "--", folder or "."], env=environment).strip()
    if not last_change:
        return (head,)
    after = repo.git.execute(["git", "rev-list", f"--max-count={MAX_COMMITS_SINCE_CHANGE}", head, "--not",
                              last_change], env=environment).split()
    return tuple(dict.fromkeys([head, *after, last_change]))


def fetch_desired(link: RepositoryLink) -> DesiredState:
    """Fetch `link`'s default branch and read what its head says of each workflow the link lists."""
    with _locked_repository(link) as repo:
        head_sha = _fetch(repo, link)
        commit = repo.commit(head_sha)
        workflows, problems = {}, []
        for entry in link.workflows or []:
            name, folder = entry["name"], entry.get("path") or "."
            path = _config_path(folder)
            config, problem = _read_config(commit, path)
            if not problem and config is not None and config.get("name") != name:
                problem = f"{path} names the workflow {config.get('name')!r}, but the link lists it as {name!r}"
            if problem:
                problems.append(problem)
                continue
            commits = _commits_since_change(repo, head_sha, folder) if config is not None else (head_sha,)
            workflows[name] = DesiredWorkflow(name=name, path=folder, config=config, commits=commits)
    if problems:
        raise RepositoryMalformed(f"{link.default_branch} at {head_sha[:8]}: " + "; ".join(problems),
                                  extra={"head_sha": head_sha, "problems": problems})
    return DesiredState(branch=link.default_branch, head_sha=head_sha, workflows=workflows)
