"""The forges' webhook receivers: only the link's secret (GitLab's token, GitHub's signature over the raw body) gets
a delivery in; a delivery id is applied once; other events are kept and ignored; nothing else is stored."""

from __future__ import annotations

import json

import pytest

from controlplane.gitops.models import ForgeDelivery, MergeRequest
from flowyard_spec.states import Role
from flowyard_testkit.forge_events import (
    deliver,
    github_pull_request_event,
    gitlab_merge_request_hook,
)

SHA = "1f0e2d3c4b5a69788796a5b4c3d2e1f001122334"


@pytest.fixture
def linked(tenant_a, client_for):
    """Link tenant A's project to a GitLab and a GitHub repository through the API; (links by forge, secrets)."""
    from controlplane.gitops.models import RepositoryLink

    links, secrets = {}, {}
    for forge, path in (("gitlab", "data/etl"), ("github", "analytics/hello")):
        response = client_for(tenant_a.admin).post("/api/v1/gitops/repositories/", {
            "project": str(tenant_a.project.pk), "forge": forge, "repository_path": path,
            "clone_url": f"https://git.example.invalid/{path}.git", "workflows": [{"name": "etl", "path": "."}]},
            format="json")
        assert response.status_code == 201, response.json()
        links[forge] = RepositoryLink.objects.get(pk=response.json()["id"])
        secrets[forge] = response.json()["webhook_secret"]
        assert response.json()["webhook_url"].endswith(f"/api/v1/gitops/{forge}/{links[forge].pk}/events")
    return links, secrets


def opened(forge, iid=3):
    if forge == "gitlab":
        return gitlab_merge_request_hook("open", iid=iid, sha=SHA, actor="ada", repository="data/etl")
    return github_pull_request_event("opened", number=iid, sha=SHA, author="ada")


@pytest.mark.parametrize("forge", ["gitlab", "github"])
def test_a_delivery_with_the_links_secret_is_applied_and_kept(forge, linked, client_for):
    links, secrets = linked
    response = deliver(client_for(None), links[forge], secrets[forge], opened(forge), delivery_id=f"{forge}-1")
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == "processed" and "merge request !3 recorded" in response.json()["detail"]
    merge_request = MergeRequest.objects.get(link=links[forge], iid=3)
    assert (merge_request.head_sha, merge_request.author, merge_request.state) == (SHA, "ada", "opened")
    delivery = ForgeDelivery.objects.get(link=links[forge], delivery_id=f"{forge}-1")
    assert delivery.event == ("merge_request" if forge == "gitlab" else "pull_request")
    assert secrets[forge] not in json.dumps(delivery.headers), "the secret is not kept"
    assert not {"X-Gitlab-Token", "X-Hub-Signature-256"} & set(delivery.headers)


@pytest.mark.parametrize("forge", ["gitlab", "github"])
@pytest.mark.parametrize("credential", ["missing", "wrong", "another links"])
def test_a_delivery_without_the_links_secret_is_refused_and_nothing_is_stored(forge, credential, linked, client_for,
                                                                             fingerprint):
    links, secrets = linked
    other = "github" if forge == "gitlab" else "gitlab"
    secret = {"missing": None, "wrong": secrets[forge][:-2] + "xx", "another links": secrets[other]}[credential]
    before = fingerprint()
    response = deliver(client_for(None), links[forge], secret, opened(forge))
    assert response.status_code == 401, response.json()
    assert response.json()["code"] == "forge_signature_invalid"
    assert fingerprint() == before


def test_a_github_signature_over_another_body_is_refused(linked, client_for, fingerprint):
    links, secrets = linked
    signed = json.dumps(opened("github")).encode()
    tampered = signed.replace(SHA.encode(), b"f" * 40)
    from flowyard_testkit.forge_events import github_headers

    before = fingerprint()
    response = client_for(None).post(f"/api/v1/gitops/github/{links['github'].pk}/events", data=tampered,
                                     content_type="application/json",
                                     **github_headers(secrets["github"], signed, event="pull_request"))
    assert response.status_code == 401
    assert fingerprint() == before


@pytest.mark.parametrize("forge", ["gitlab", "github"])
def test_a_replayed_delivery_id_answers_200_and_changes_nothing(forge, linked, client_for, fingerprint):
    links, secrets = linked
    assert deliver(client_for(None), links[forge], secrets[forge], opened(forge), delivery_id="same").status_code == 200
    before = fingerprint()
    update = (gitlab_merge_request_hook("update", iid=3, sha="9" * 40, actor="ada", repository="data/etl")
              if forge == "gitlab" else github_pull_request_event("synchronize", number=3, sha="9" * 40, author="ada"))
    replay = deliver(client_for(None), links[forge], secrets[forge], update, delivery_id="same")
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert fingerprint() == before
    assert MergeRequest.objects.get(link=links[forge], iid=3).head_sha == SHA


def test_a_body_over_one_mib_is_refused_with_413(linked, client_for, fingerprint):
    links, secrets = linked
    before = fingerprint()
    response = deliver(client_for(None), links["gitlab"], secrets["gitlab"], None,
                       raw=b'{"pad": "' + b"x" * (1024 * 1024) + b'"}')
    assert response.status_code == 413 and response.json()["code"] == "forge_body_too_large"
    assert fingerprint() == before


def test_an_event_flowyard_does_not_use_is_kept_as_ignored_with_202(linked, client_for):
    links, secrets = linked
    response = deliver(client_for(None), links["gitlab"], secrets["gitlab"], {"object_kind": "push", "ref": "x"},
                       event="Push Hook", delivery_id="push-1")
    assert response.status_code == 202 and response.json()["outcome"] == "ignored"
    assert ForgeDelivery.objects.get(delivery_id="push-1").outcome == "ignored"
    assert not MergeRequest.objects.filter(link=links["gitlab"]).exists()


def test_a_verified_delivery_without_its_delivery_id_or_with_a_broken_payload_is_400(linked, client_for, fingerprint):
    links, secrets = linked
    before = fingerprint()
    broken = opened("gitlab")
    del broken["object_attributes"]["last_commit"]
    response = deliver(client_for(None), links["gitlab"], secrets["gitlab"], broken)
    assert response.status_code == 400 and "last_commit.id" in response.json()["message"]
    no_id = client_for(None).post(f"/api/v1/gitops/gitlab/{links['gitlab'].pk}/events",
                                  data=json.dumps(opened("gitlab")), content_type="application/json",
                                  HTTP_X_GITLAB_EVENT="Merge Request Hook", HTTP_X_GITLAB_TOKEN=secrets["gitlab"])
    assert no_id.status_code == 400 and "X-Gitlab-Event-UUID" in no_id.json()["message"]
    assert fingerprint() == before


def test_the_other_forges_receiver_does_not_know_the_link(linked, client_for):
    links, secrets = linked
    response = client_for(None).post(f"/api/v1/gitops/github/{links['gitlab'].pk}/events", data="{}",
                                     content_type="application/json")
    assert response.status_code == 404


def test_deliveries_are_listed_for_the_projects_admins_only(linked, tenant_a, tenant_b, client_for):
    links, secrets = linked
    deliver(client_for(None), links["gitlab"], secrets["gitlab"], opened("gitlab"), delivery_id="listed")
    admin = client_for(tenant_a.admin).get("/api/v1/gitops/deliveries/", {"link": str(links["gitlab"].pk)}).json()
    assert [d["delivery_id"] for d in admin["results"]] == ["listed"]
    for user in (tenant_a.users[Role.APPROVER], tenant_b.admin):
        seen = client_for(user).get("/api/v1/gitops/deliveries/").json()["results"]
        assert "listed" not in [d["delivery_id"] for d in seen]


def test_rotating_the_secret_stops_the_old_one_at_once(linked, tenant_a, client_for):
    links, secrets = linked
    rotated = client_for(tenant_a.admin).post(f"/api/v1/gitops/repositories/{links['gitlab'].pk}/rotate/")
    assert rotated.status_code == 200 and rotated.json()["webhook_secret"] != secrets["gitlab"]
    assert deliver(client_for(None), links["gitlab"], secrets["gitlab"], opened("gitlab")).status_code == 401
    assert deliver(client_for(None), links["gitlab"], rotated.json()["webhook_secret"],
                   opened("gitlab")).status_code == 200
    shown = client_for(tenant_a.admin).get(f"/api/v1/gitops/repositories/{links['gitlab'].pk}/").json()
    assert "webhook_secret" not in shown and rotated.json()["webhook_secret"] not in json.dumps(shown)
