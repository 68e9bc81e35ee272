"""Git metadata of a workflow repository (GitPython): commit, branch, author, message, remote URL.

CI checks out a detached HEAD, so the branch then comes from the CI's variables (GitLab, GitHub,
Jenkins, Buildkite). Credentials in a remote URL (`https://gitlab-ci-token:…@host/…`) never leave here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import git

# Branch variables, most specific first: an MR/PR pipeline's source branch before the ref name.
BRANCH_ENV_VARS = (
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "BRANCH_NAME",
    "BUILDKITE_BRANCH",
)


@dataclass(frozen=True)
class GitMetadata:
    """What the image labels and the registration say about the source; None when unknown."""

    repository: str | None = None
    commit_sha: str | None = None
    branch: str | None = None
    author: str | None = None
    message: str | None = None
    dirty: bool = False

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict (for --json output)."""
        return asdict(self)


def strip_credentials(url: str) -> str:
    """The URL without a password, and for http(s) without a user name either (tokens hide there too)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url  # a path or scp-like `git@host:group/repo.git`: no secret in it
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    keep_user = parts.scheme not in ("http", "https") and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    return urlunsplit(parts._replace(netloc=netloc))


def _ci_repository(env: Mapping[str, str]) -> str | None:
    if env.get("CI_PROJECT_URL"):
        return env["CI_PROJECT_URL"]
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY"):
        return f"{env['GITHUB_SERVER_URL'].rstrip('/')}/{env['GITHUB_REPOSITORY']}"
    return None


def _remote_url(repo: git.Repo) -> str | None:
    remotes = sorted(repo.remotes, key=lambda remote: remote.name != "origin")
    for remote in remotes:
        for url in remote.urls:
            return strip_credentials(url)
    return None


def _branch(repo: git.Repo, env: Mapping[str, str]) -> str | None:
    if not repo.head.is_detached:
        return repo.active_branch.name
    for name in BRANCH_ENV_VARS:
        if env.get(name):
            return env[name]
    pointing = [head.name for head in repo.heads if head.commit == repo.head.commit]
    return pointing[0] if len(pointing) == 1 else None


def read_git_metadata(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GitMetadata:
    """Metadata of the git repository holding `path`; outside a repository, only what CI variables say."""
    env = os.environ if env is None else env
    try:
        repo = git.Repo(Path(path), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitMetadata(repository=_ci_repository(env), branch=next((env[n] for n in BRANCH_ENV_VARS if env.get(n)), None))
    with repo:
        repository = _remote_url(repo) or _ci_repository(env) or str(Path(repo.working_tree_dir or path).resolve())
        if not repo.head.is_valid():  # no commit yet
            return GitMetadata(repository=repository, branch=_branch(repo, env), dirty=True)
        commit = repo.head.commit
        return GitMetadata(
            repository=repository,
            commit_sha=commit.hexsha,
            branch=_branch(repo, env),
            author=f"{commit.author.name} <{commit.author.email}>",
            message=str(commit.message).strip(),
            dirty=repo.is_dirty(untracked_files=False),
        )
