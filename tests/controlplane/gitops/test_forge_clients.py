"""The GitLab and GitHub clients against a recording forge on 127.0.0.1: what they send, and how they fail."""

from __future__ import annotations

import email.utils
import re
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from controlplane.gitops.forges import (
    CommitState,
    ForgeError,
    ForgeRefused,
    ForgeUnavailable,
    GitHubClient,
    GitLabClient,
    forge_client,
)
from flowyard_testkit.forge_recorder import RECORDING_FORGE_TOKEN as TOKEN
from flowyard_testkit.forge_recorder import RecordingForge, recording_forge  # noqa: F401  (a fixture)

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _database():
    """The forge clients are plain HTTP clients: these tests need no database."""


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A session that ignores proxy variables and ~/.netrc, so requests go straight to 127.0.0.1."""
    with requests.Session() as plain:
        plain.trust_env = False
        yield plain


@pytest.fixture
def forge(recording_forge: RecordingForge) -> RecordingForge:  # noqa: F811
    """The recording forge, expecting TOKEN."""
    return recording_forge


@pytest.fixture
def gitlab(forge, session) -> GitLabClient:
    return GitLabClient(forge.gitlab_api_url, TOKEN, timeout=2, session=session)


@pytest.fixture
def github(forge, session) -> GitHubClient:
    return GitHubClient(forge.github_api_url, TOKEN, timeout=2, session=session)


@pytest.fixture(params=["gitlab", "github"])
def client(request, forge, session):
    """Each forge's client in turn."""
    api_url = forge.gitlab_api_url if request.param == "gitlab" else forge.github_api_url
    return forge_client(request.param, api_url, TOKEN, timeout=2, session=session)


def set_status(client, **overrides) -> None:
    arguments = {"repository": "team/app", "sha": SHA, "context": "flowyard/preview", "state": CommitState.SUCCESS,
                 "description": "Preview ready", "target_url": "https://flowyard.test/previews/7"}
    client.set_commit_status(**{**arguments, **overrides})


# --- commit statuses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "sent"), [(CommitState.PENDING, "pending"), (CommitState.SUCCESS, "success"),
                                             (CommitState.FAILURE, "failed"), (CommitState.ERROR, "failed")])
def test_a_gitlab_commit_status_is_posted_to_the_encoded_project_with_the_private_token(gitlab, forge, state, sent):
    set_status(gitlab, repository="platform/web/shop", state=state)

    request = forge.only("POST")
    assert request.path == f"/api/v4/projects/platform%2Fweb%2Fshop/statuses/{SHA}"
    assert request.header("PRIVATE-TOKEN") == TOKEN
    assert request.header("Authorization") is None
    assert request.header("Content-Type") == "application/json"
    assert "flowyard" in request.header("User-Agent")
    assert request.json == {"state": sent, "name": "flowyard/preview", "description": "Preview ready",
                            "target_url": "https://flowyard.test/previews/7"}
    assert request.status == 201


@pytest.mark.parametrize("state", list(CommitState))
@pytest.mark.parametrize("prefix", ["", "/api/v3"])
def test_a_github_commit_status_is_posted_with_a_bearer_token_and_the_api_version(forge, session, state, prefix):
    github = GitHubClient(forge.url + prefix, TOKEN, session=session)
    set_status(github, state=state)

    request = forge.only("POST")
    assert request.path == f"{prefix}/repos/team/app/statuses/{SHA}"
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.header("PRIVATE-TOKEN") is None
    assert request.header("Accept") == "application/vnd.github+json"
    assert request.header("X-GitHub-Api-Version") == "2022-11-28"
    assert "flowyard" in request.header("User-Agent")
    assert request.json == {"state": state.value, "context": "flowyard/preview", "description": "Preview ready",
                            "target_url": "https://flowyard.test/previews/7"}


@pytest.mark.parametrize(("forge_name", "limit"), [("gitlab", 255), ("github", 140)])
def test_a_long_description_is_cut_to_the_forge_limit_with_an_ellipsis(forge, session, forge_name, limit):
    api_url = forge.gitlab_api_url if forge_name == "gitlab" else forge.github_api_url
    client = forge_client(forge_name, api_url, TOKEN, session=session)
    set_status(client, description="é" * 300)
    set_status(client, description="x" * limit)

    long, exact = (request.json["description"] for request in forge.find("POST"))
    assert len(long) == limit and long == "é" * (limit - 1) + "…"
    assert exact == "x" * limit


def test_a_status_without_a_target_url_sends_none(client, forge):
    set_status(client, target_url="")

    assert "target_url" not in forge.only("POST").json


def test_gitlab_refusing_pending_over_pending_counts_as_set_but_other_refusals_do_not(gitlab, forge):
    set_status(gitlab, state=CommitState.PENDING)
    set_status(gitlab, state=CommitState.PENDING)  # GitLab answers 400 "Cannot transition status via :enqueue"

    assert [request.status for request in forge.requests] == [201, 400]
    forge.fail_next(status=400, body={"message": "Cannot transition status via :enqueue from :pending"})
    with pytest.raises(ForgeRefused) as refused:
        set_status(gitlab, state=CommitState.SUCCESS)
    assert refused.value.status == 400


# --- the merge request's comment ---------------------------------------------------------------------------------


def test_a_gitlab_comment_is_created_then_updated_in_place(gitlab, forge):
    comment_id = gitlab.upsert_comment(repository="platform/web/shop", merge_request=7, body="Preview: building")
    same_id = gitlab.upsert_comment(repository="platform/web/shop", merge_request=7, body="Preview: ready",
                                    comment_id=comment_id)

    assert comment_id == same_id and isinstance(comment_id, str)
    create, update = forge.requests
    assert (create.method, create.path) == ("POST", "/api/v4/projects/platform%2Fweb%2Fshop/merge_requests/7/notes")
    assert (update.method, update.path) == (
        "PUT", f"/api/v4/projects/platform%2Fweb%2Fshop/merge_requests/7/notes/{comment_id}")
    assert create.json == {"body": "Preview: building"} and update.json == {"body": "Preview: ready"}
    assert update.header("PRIVATE-TOKEN") == TOKEN
    assert forge.comments == {int(comment_id): "Preview: ready"}


def test_a_github_comment_is_created_then_updated_in_place(github, forge):
    comment_id = github.upsert_comment(repository="team/app", merge_request=8, body="Preview: building")
    same_id = github.upsert_comment(repository="team/app", merge_request=8, body="Preview: ready",
                                    comment_id=comment_id)

    assert comment_id == same_id
    create, update = forge.requests
    assert (create.method, create.path) == ("POST", "/repos/team/app/issues/8/comments")
    assert (update.method, update.path) == ("PATCH", f"/repos/team/app/issues/comments/{comment_id}")
    assert update.json == {"body": "Preview: ready"}
    assert update.header("Authorization") == f"Bearer {TOKEN}"
    assert forge.comments == {int(comment_id): "Preview: ready"}


def test_comment_ids_increase(client):
    first = client.upsert_comment(repository="team/app", merge_request=1, body="one")
    second = client.upsert_comment(repository="team/app", merge_request=2, body="two")

    assert int(second) > int(first)


def test_a_comment_deleted_on_the_forge_is_created_again(client, forge):
    old_id = client.upsert_comment(repository="team/app", merge_request=7, body="first")
    forge.delete_comment(old_id)

    new_id = client.upsert_comment(repository="team/app", merge_request=7, body="second", comment_id=old_id)

    assert new_id != old_id
    assert [(request.method, request.status) for request in forge.requests][1:] in (
        [("PUT", 404), ("POST", 201)], [("PATCH", 404), ("POST", 201)])
    assert forge.comments == {int(new_id): "second"}


def test_an_update_refused_for_another_reason_than_404_creates_nothing(client, forge):
    comment_id = client.upsert_comment(repository="team/app", merge_request=7, body="first")
    forge.fail_next(status=403)

    with pytest.raises(ForgeRefused) as refused:
        client.upsert_comment(repository="team/app", merge_request=7, body="second", comment_id=comment_id)

    assert refused.value.status == 403
    assert len(forge.requests) == 2 and forge.comments == {int(comment_id): "first"}


def test_a_created_comment_without_an_id_in_the_answer_is_unavailable(client, forge):
    forge.fail_next(status=201, body="not an object")

    with pytest.raises(ForgeUnavailable, match="no comment id"):
        client.upsert_comment(repository="team/app", merge_request=7, body="hello")


# --- failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "retry_after"), [
    (503, {}, None), (503, {"Retry-After": "30"}, 30.0), (502, {}, None),
    (429, {"Retry-After": "7"}, 7.0), (429, {"Retry-After": "soon"}, None)])
def test_server_errors_and_rate_limits_are_worth_retrying(client, forge, status, headers, retry_after):
    forge.fail_next(status=status, headers=headers)

    with pytest.raises(ForgeUnavailable) as unavailable:
        set_status(client)

    assert unavailable.value.retry_after == retry_after
    message = str(unavailable.value)
    assert "POST" in message and "/statuses/" in message and str(status) in message


def test_a_retry_after_date_becomes_seconds(client, forge):
    forge.fail_next(status=429, headers={"Retry-After": email.utils.formatdate(time.time() + 60, usegmt=True)})

    with pytest.raises(ForgeUnavailable) as unavailable:
        client.upsert_comment(repository="team/app", merge_request=7, body="hello")

    assert 55 <= unavailable.value.retry_after <= 60


def test_a_forge_that_is_down_is_unavailable_until_it_is_up(client, forge):
    forge.down()
    with pytest.raises(ForgeUnavailable):
        set_status(client)
    forge.up()

    set_status(client)

    assert [request.status for request in forge.requests] == [503, 201]


def test_github_rate_limit_answered_with_403_is_unavailable_until_the_reset(github, forge):
    reset = int(time.time()) + 120
    forge.fail_next(status=403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})

    with pytest.raises(ForgeUnavailable) as unavailable:
        set_status(github)

    assert 110 <= unavailable.value.retry_after <= 120


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_other_client_errors_are_refused(client, forge, status):
    forge.fail_next(status=status)

    with pytest.raises(ForgeRefused) as refused:
        set_status(client)

    assert refused.value.status == status
    assert not isinstance(refused.value, ForgeUnavailable)
    assert "POST" in str(refused.value) and "/statuses/" in str(refused.value) and str(status) in str(refused.value)


@pytest.mark.parametrize("forge_name", ["gitlab", "github"])
def test_a_wrong_token_is_refused_with_401(forge, session, forge_name):
    api_url = forge.gitlab_api_url if forge_name == "gitlab" else forge.github_api_url
    client = forge_client(forge_name, api_url, "not-the-token", session=session)

    with pytest.raises(ForgeRefused) as refused:
        client.upsert_comment(repository="team/app", merge_request=7, body="hello")

    assert refused.value.status == 401 and forge.comments == {}


def test_an_unreachable_forge_is_unavailable(session):
    with socket.socket() as bound_but_not_listening:
        bound_but_not_listening.bind(("127.0.0.1", 0))
        port = bound_but_not_listening.getsockname()[1]
        client = GitLabClient(f"http://127.0.0.1:{port}/api/v4", TOKEN, timeout=2, session=session)

        with pytest.raises(ForgeUnavailable, match="could not be reached for POST"):
            set_status(client)


def test_a_forge_slower_than_the_timeout_is_unavailable(forge, session):
    client = GitHubClient(forge.github_api_url, TOKEN, timeout=0.2, session=session)
    forge.stall_next(2)

    with pytest.raises(ForgeUnavailable, match="did not answer POST"):
        set_status(client)


def test_a_redirect_within_the_forge_is_followed_with_the_same_method_and_body(gitlab, forge):
    target = f"/api/v4/projects/team%2Frenamed/statuses/{SHA}"
    forge.fail_next(status=307, headers={"Location": forge.url + target})

    set_status(gitlab)

    first, second = forge.requests
    assert (second.method, second.path, second.json) == ("POST", target, first.json)
    assert second.header("PRIVATE-TOKEN") == TOKEN


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_the_token_does_not_follow(gitlab, forge, status):
    with RecordingForge() as elsewhere:  # another origin (port) on 127.0.0.1
        forge.fail_next(status=status, headers={"Location": elsewhere.url + "/steal"})

        with pytest.raises(ForgeRefused) as refused:
            set_status(gitlab)

        assert refused.value.status == status
        assert elsewhere.requests == []


def test_the_token_never_appears_in_an_error_message(forge, session):
    errors: list[ForgeError] = []
    scenarios = [
        {"status": 503}, {"status": 429, "headers": {"Retry-After": "3"}}, {"status": 401}, {"status": 404},
        {"status": 400, "body": {"message": f"token {TOKEN} is not allowed here"}},  # a forge echoing it
        {"status": 500, "body": {"error": f"Bearer {TOKEN}"}},
    ]
    for forge_name in ("gitlab", "github"):
        api_url = forge.gitlab_api_url if forge_name == "gitlab" else forge.github_api_url
        client = forge_client(forge_name, api_url, TOKEN, timeout=2, session=session)
        for scenario in scenarios:
            forge.fail_next(**scenario)
            with pytest.raises(ForgeError) as caught:
                client.upsert_comment(repository="team/app", merge_request=7, body="hello")
            errors.append(caught.value)
        forge.stall_next(1)
        with pytest.raises(ForgeError) as caught:
            set_status(forge_client(forge_name, api_url, TOKEN, timeout=0.2, session=session))
        errors.append(caught.value)
    forge.stop()
    with pytest.raises(ForgeError) as caught:
        set_status(forge_client("github", forge.github_api_url, TOKEN, timeout=0.5, session=session))
    errors.append(caught.value)

    assert len(errors) == 15
    for error in errors:
        chain = [error, error.__cause__, error.__context__]
        assert all(TOKEN not in str(link) and TOKEN not in repr(link) for link in chain), error
    assert "[token]" in str(errors[4])


def test_a_client_does_not_show_its_token():
    client = GitLabClient("https://gitlab.example.com/api/v4", TOKEN)

    assert TOKEN not in repr(client) and TOKEN not in str(vars(client).get("api_url"))
    client.close()


# --- what is refused before anything is sent ---------------------------------------------------------------------


@pytest.mark.parametrize("repository", [
    "", "app", "../etc/passwd", "team/../admin", "team/..", "team/./app", "/team/app", "team/app/", "team//app",
    "team/app?x=1", "team/app#x", "team/a pp", "team/app%2F..", "team\\app", "tëam/app", None, 42])
def test_a_bad_repository_is_refused_before_any_request(client, forge, repository):
    with pytest.raises(ValueError, match="repository"):
        set_status(client, repository=repository)
    with pytest.raises(ValueError, match="repository"):
        client.upsert_comment(repository=repository, merge_request=7, body="hello")

    assert forge.requests == []


def test_nested_groups_are_a_gitlab_thing(gitlab, github, forge):
    set_status(gitlab, repository="group/sub/app")
    with pytest.raises(ValueError, match="owner/name"):
        set_status(github, repository="group/sub/app")

    assert len(forge.requests) == 1


@pytest.mark.parametrize("sha", ["", "abc12", "0" * 65, "g" * 40, f"{SHA}/x", f"../{SHA}", None])
def test_a_bad_sha_is_refused_before_any_request(client, forge, sha):
    with pytest.raises(ValueError, match="sha"):
        set_status(client, sha=sha)

    assert forge.requests == []


@pytest.mark.parametrize(("arguments", "complaint"), [
    ({"merge_request": 0}, "merge request"), ({"merge_request": -3}, "merge request"),
    ({"merge_request": True}, "merge request"), ({"merge_request": "7"}, "merge request"),
    ({"comment_id": "12/../34"}, "comment id"), ({"comment_id": "abc"}, "comment id"),
    ({"comment_id": ""}, "comment id"), ({"comment_id": True}, "comment id"),
    ({"body": ""}, "body"), ({"body": "   "}, "body")])
def test_a_bad_merge_request_comment_or_body_is_refused_before_any_request(client, forge, arguments, complaint):
    with pytest.raises(ValueError, match=complaint):
        client.upsert_comment(**{"repository": "team/app", "merge_request": 7, "body": "hello", **arguments})

    assert forge.requests == []


def test_a_bad_context_or_state_is_refused_before_any_request(client, forge):
    with pytest.raises(ValueError, match="context"):
        set_status(client, context="")
    with pytest.raises(ValueError):
        set_status(client, state="running")

    assert forge.requests == []


@pytest.mark.parametrize("token", ["", "s3cret value", "s3cret\nvalue", "s3cret\tvalue", "s3crét"])
def test_a_token_that_cannot_be_a_header_is_refused_without_being_shown(token):
    with pytest.raises(ValueError) as refused:
        GitHubClient("https://api.github.com", token)

    assert token.strip() == "" or token not in str(refused.value)


@pytest.mark.parametrize("api_url", ["gitlab.example.com/api/v4", "ftp://gitlab.example.com",
                                     "https://user:pw@gitlab.example.com/api/v4", "https://x.test/api?q=1", ""])
def test_a_bad_api_url_is_refused(api_url):
    with pytest.raises(ValueError, match="API URL"):
        GitLabClient(api_url, TOKEN)


def test_forge_client_makes_the_named_forge_client_with_its_options(session):
    gitlab = forge_client("gitlab", "https://gitlab.example.com/api/v4/", TOKEN, timeout=3, session=session)
    github = forge_client("github", "https://api.github.com", TOKEN)

    assert isinstance(gitlab, GitLabClient) and gitlab.timeout == 3 and gitlab.api_url.endswith("/api/v4")
    assert isinstance(github, GitHubClient) and github.timeout == 10.0
    with pytest.raises(ValueError, match=re.escape("expected one of github, gitlab")):
        forge_client("bitbucket", "https://bitbucket.org", TOKEN)
    github.close()
