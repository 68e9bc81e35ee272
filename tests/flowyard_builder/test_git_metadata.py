"""Git metadata read with GitPython from real repositories: sha, branch (also detached in CI), author,
message, remote URL without credentials."""

from __future__ import annotations

import pytest
from flowyard_testkit.docker_env import git, make_workflow_repo

from flowyard_builder.images.git_metadata import read_git_metadata, strip_credentials


@pytest.fixture
def repo(tmp_path):
    return make_workflow_repo(tmp_path / "wf", branch="feature/etl", message="Add the sample ETL workflow\n\nWith a body.")


def test_commit_branch_author_and_message_of_a_repository(repo):
    meta = read_git_metadata(repo, env={})
    assert meta.commit_sha == git(repo, "rev-parse", "HEAD")
    assert len(meta.commit_sha) == 40
    assert meta.branch == "feature/etl"
    assert meta.author == "Ada Lovelace <ada@example.com>"
    assert meta.message == "Add the sample ETL workflow\n\nWith a body."
    assert meta.dirty is False


def test_a_subdirectory_finds_its_repository(repo):
    (repo / "pkg").mkdir()
    assert read_git_metadata(repo / "pkg", env={}).commit_sha == git(repo, "rev-parse", "HEAD")


def test_without_a_remote_the_repository_is_the_working_tree(repo):
    assert read_git_metadata(repo, env={}).repository == str(repo.resolve())


def test_remote_url_credentials_never_leave(repo):
    git(repo, "remote", "add", "origin", "https://gitlab-ci-token:glcbt-s3cret@gitlab.example.com/team/etl.git")
    meta = read_git_metadata(repo, env={})
    assert meta.repository == "https://gitlab.example.com/team/etl.git"
    assert "s3cret" not in repr(meta)


def test_origin_is_preferred_over_other_remotes(repo):
    git(repo, "remote", "add", "backup", "https://backup.example.com/etl.git")
    git(repo, "remote", "add", "origin", "git@gitlab.example.com:team/etl.git")
    assert read_git_metadata(repo, env={}).repository == "git@gitlab.example.com:team/etl.git"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://ghp_token@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("http://oauth2:x@10.example:8080/g/r.git", "http://10.example:8080/g/r.git"),
        ("ssh://git:pw@host.example/g/r.git", "ssh://git@host.example/g/r.git"),
        ("ssh://git@host.example:2222/g/r.git", "ssh://git@host.example:2222/g/r.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
    ],
)
def test_strip_credentials(url, expected):
    assert strip_credentials(url) == expected


def test_detached_head_takes_the_branch_from_ci_variables(repo):
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", sha)
    assert read_git_metadata(repo, env={"CI_COMMIT_REF_NAME": "feature/from-gitlab"}).branch == "feature/from-gitlab"
    assert read_git_metadata(repo, env={"GITHUB_REF_NAME": "feature/from-github"}).branch == "feature/from-github"
    both = {"GITHUB_HEAD_REF": "pr-source", "GITHUB_REF_NAME": "12/merge"}
    assert read_git_metadata(repo, env=both).branch == "pr-source"
    assert read_git_metadata(repo, env={"CI_COMMIT_REF_NAME": "x"}).commit_sha == sha


def test_detached_head_without_ci_variables_uses_the_one_branch_at_that_commit(repo):
    git(repo, "checkout", "-q", "--detach")
    assert read_git_metadata(repo, env={}).branch == "feature/etl"
    git(repo, "branch", "other")
    assert read_git_metadata(repo, env={}).branch is None  # two candidates: not guessed


def test_a_branch_checkout_ignores_ci_variables(repo):
    assert read_git_metadata(repo, env={"CI_COMMIT_REF_NAME": "elsewhere"}).branch == "feature/etl"


def test_changed_tracked_files_mark_the_tree_dirty(repo):
    (repo / "workflow.py").write_text("# changed\n")
    (repo / "untracked.txt").write_text("x")
    assert read_git_metadata(repo, env={}).dirty is True


def test_outside_a_repository_only_ci_variables_are_known(tmp_path):
    env = {"CI_PROJECT_URL": "https://gitlab.example.com/team/etl", "CI_COMMIT_REF_NAME": "main"}
    meta = read_git_metadata(tmp_path, env=env)
    assert (meta.repository, meta.branch, meta.commit_sha) == ("https://gitlab.example.com/team/etl", "main", None)
    assert read_git_metadata(tmp_path, env={}).repository is None


def test_a_repository_without_commits(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    meta = read_git_metadata(tmp_path, env={})
    assert meta.commit_sha is None and meta.branch == "main"
