"""The control plane reports back to the forge: commit statuses `flowyard/test` and `flowyard/promotion` on the
merge request's head and one comment updated in place, checked against a recording forge on 127.0.0.1 (method,
path, auth header, body). A forge that is down is retried; it never blocks a promotion; every attempt is kept."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from controlplane.gitops.models import ForgeReport, MergeRequest
from controlplane.gitops.reporting import report_to_forge
from flowyard_testkit.forge_events import github_pull_request_event
from flowyard_testkit.forge_recorder import RECORDING_FORGE_TOKEN, recording_forge  # noqa: F401

from .test_merge_request_promotions import REPO, SHA, Forge


@pytest.fixture
def reporting(tenant_a, client_for, recording_forge):  # noqa: F811
    """A GitLab link of tenant A that reports to the recording forge."""
    gitlab = Forge(tenant_a, client_for)
    changed = client_for(tenant_a.admin).patch(f"/api/v1/gitops/repositories/{gitlab.link.pk}/", {
        "api_url": recording_forge.gitlab_api_url, "api_token": RECORDING_FORGE_TOKEN}, format="json")
    assert changed.status_code == 200 and changed.json()["has_api_token"] is True
    assert RECORDING_FORGE_TOKEN not in changed.content.decode(), "the token is write-only"
    return gitlab


def report(merge_request_id):
    return report_to_forge.apply(args=[str(merge_request_id)]).get()


def test_statuses_and_one_comment_reach_the_forge_and_the_comment_is_updated_in_place(reporting, recording_forge):  # noqa: F811
    reporting.gitlab("open")
    reporting.ci_builds()
    merge_request = MergeRequest.objects.get(link=reporting.link, iid=3)
    assert report(merge_request.pk) == "reported"
    statuses = recording_forge.find("POST", f"/api/v4/projects/{quote(REPO, safe='')}/statuses/{SHA}")
    assert [request.json["name"] for request in statuses] == ["flowyard/test", "flowyard/promotion"]
    assert all(request.header("PRIVATE-TOKEN") == RECORDING_FORGE_TOKEN for request in statuses)
    assert statuses[1].json["state"] == "pending" and "approval" in statuses[1].json["description"]
    (created,) = recording_forge.find("POST", f"/api/v4/projects/{quote(REPO, safe='')}/merge_requests/3/notes")
    assert "| nightly | pending | 0/1 |" in created.json["body"]
    merge_request.refresh_from_db()
    assert merge_request.comment_id

    reporting.gitlab("approved", actor="linus")
    reporting.gitlab("merge", actor="linus")
    assert report(merge_request.pk) == "reported"
    (updated,) = recording_forge.find("PUT", f"/api/v4/projects/{quote(REPO, safe='')}/merge_requests/3/notes/"
                                             f"{merge_request.comment_id}")
    assert "| nightly | promoted | 1/1 |" in updated.json["body"]
    assert len(recording_forge.comments) == 1, "one comment, updated in place"
    assert recording_forge.statuses[-1]["payload"]["state"] == "success"


def test_a_forge_that_is_down_is_retried_and_never_blocks_the_promotion(reporting, recording_forge, tenant_a):  # noqa: F811
    reporting.gitlab("open")
    reporting.ci_builds()
    recording_forge.down()
    reporting.gitlab("approved", actor="linus")
    reporting.gitlab("merge", actor="linus")
    assert reporting.promotion().condition == "promoted", "the forge being down changed nothing here"
    merge_request = MergeRequest.objects.get(link=reporting.link, iid=3)
    recording_forge.up()
    recording_forge.fail_next(2, status=503)
    assert report(merge_request.pk) == "reported"  # two failed attempts, then through
    attempts = list(ForgeReport.objects.filter(merge_request=merge_request).order_by("at", "id"))
    assert [attempt.ok for attempt in attempts][:2] == [False, False] and attempts[-1].ok
    assert "503" in attempts[0].detail and RECORDING_FORGE_TOKEN not in attempts[0].detail


def test_a_refusing_forge_is_recorded_and_not_retried(reporting, recording_forge, client_for, tenant_a):  # noqa: F811
    client_for(tenant_a.admin).patch(f"/api/v1/gitops/repositories/{reporting.link.pk}/",
                                     {"api_token": "glpat-wrong"}, format="json")
    reporting.gitlab("open")
    merge_request = MergeRequest.objects.get(link=reporting.link, iid=3)
    assert report(merge_request.pk) == "refused"
    (attempt,) = ForgeReport.objects.filter(merge_request=merge_request)
    assert not attempt.ok and "401" in attempt.detail and "glpat-wrong" not in attempt.detail
    assert len(recording_forge.requests) == 1


def test_github_gets_its_statuses_and_an_issue_comment(tenant_a, client_for, recording_forge):  # noqa: F811
    github = Forge(tenant_a, client_for, forge="github")
    client_for(tenant_a.admin).patch(f"/api/v1/gitops/repositories/{github.link.pk}/", {
        "api_url": recording_forge.github_api_url, "api_token": RECORDING_FORGE_TOKEN}, format="json")
    github.send(github_pull_request_event("opened", number=3, sha=SHA, author="ada"), event="pull_request")
    merge_request = MergeRequest.objects.get(link=github.link, iid=3)
    assert report(merge_request.pk) == "reported"
    statuses = recording_forge.find("POST", f"/repos/analytics/hello/statuses/{SHA}")
    assert [request.json["context"] for request in statuses] == ["flowyard/test", "flowyard/promotion"]
    assert statuses[0].header("Authorization") == f"Bearer {RECORDING_FORGE_TOKEN}"
    assert recording_forge.find("POST", "/repos/analytics/hello/issues/3/comments")
