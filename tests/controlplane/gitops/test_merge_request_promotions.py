"""Merge requests drive promotions: the head commit's CI build is proposed for production, approvals count only
from matched approvers who are not the author, a new commit dismisses them, and the merge deploys exactly that
digest once — or rejects it, visibly. Forge events come in through the real receivers."""

from __future__ import annotations

import pytest

from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Deployment, Environment, Promotion
from controlplane.gitops.models import MergeRequestPromotion, RepositoryLink
from controlplane.gitops.services import forge_identity_set
from flowyard_spec.states import Role
from flowyard_testkit.forge_events import (
    deliver,
    github_pull_request_event,
    github_review_event,
    gitlab_merge_request_hook,
)
from flowyard_testkit.writes import registration_body

SHA, SHA2 = "1f0e2d3c4b5a69788796a5b4c3d2e1f001122334", "2a2b2c2d2e2f30313233343536373839404142aa"
REPO = "data/nightly"


class Forge:
    """A GitLab (or GitHub) repository linked to tenant A's project, and who is who on it."""

    def __init__(self, tenant, client_for, forge="gitlab"):
        self.tenant, self.client_for, self.forge = tenant, client_for, forge
        path = REPO if forge == "gitlab" else "analytics/hello"
        response = client_for(tenant.admin).post("/api/v1/gitops/repositories/", {
            "project": str(tenant.project.pk), "forge": forge, "repository_path": path,
            "clone_url": f"https://git.example.invalid/{path}.git", "workflows": [{"name": "nightly"}]}, format="json")
        assert response.status_code == 201, response.json()
        self.link = RepositoryLink.objects.get(pk=response.json()["id"])
        self.secret = response.json()["webhook_secret"]
        people = {"ada": tenant.users[Role.APPROVER], "linus": tenant.admin, "vera": tenant.users[Role.VIEWER]}
        for login, user in people.items():  # ada opens merge requests; mallory is nobody Flowyard knows
            forge_identity_set(actor=None, forge=forge, username=login, user=user)
        self.deliveries = 0

    def send(self, payload, *, event=None, delivery_id=None):
        self.deliveries += 1
        response = deliver(self.client_for(None), self.link, self.secret, payload, event=event,
                           delivery_id=delivery_id or f"delivery-{self.deliveries}")
        assert response.status_code == 200, response.json()
        return response.json()

    def gitlab(self, action, *, sha=SHA, actor="ada", iid=3, **extra):
        return self.send(gitlab_merge_request_hook(action, iid=iid, sha=sha, actor=actor, repository=REPO, **extra))

    def ci_builds(self, sha=SHA, iid=3, seed=None):
        """This project's CI registers the merge request's build of `sha` (deployed to its preview)."""
        client = self.client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tenant.ci_token_value}")
        body = registration_body(self.tenant, seed=seed or sha) | {
            "event": "merge_request", "merge_request_iid": iid, "git_commit_sha": sha, "git_branch": "feature/greet",
            "git_author": "ada"}
        response = client.post("/api/v1/registrations/", body, format="json")
        assert response.status_code in (200, 201), response.json()
        return response.json()

    def promotion(self, sha=SHA, iid=3):
        return MergeRequestPromotion.objects.get(merge_request__link=self.link, merge_request__iid=iid, head_sha=sha)


@pytest.fixture
def gitlab(tenant_a, client_for):
    return Forge(tenant_a, client_for)


def production_digest(tenant):
    deployment = Deployment.objects.filter(workflow__project=tenant.project, workflow__name="nightly",
                                           environment=tenant.production_env).first()
    return deployment.version.image_digest if deployment and deployment.version else None


def test_an_opened_merge_request_waits_for_its_build_then_proposes_exactly_that_version(gitlab, tenant_a):
    gitlab.gitlab("open")
    waiting = gitlab.promotion()
    assert waiting.condition == "awaiting_build" and "waiting for CI" in waiting.reason
    build = gitlab.ci_builds()
    waiting.refresh_from_db()
    assert waiting.condition == "pending"
    promotion = waiting.promotion
    assert (promotion.state, str(promotion.version_id), promotion.source_environment.name) == (
        "PENDING", build["version"]["id"], "mr-3")
    assert promotion.target_environment == tenant_a.production_env
    assert promotion.merge_request_url.endswith(f"/{REPO}/-/merge_requests/3") and promotion.requested_for == "ada"


def test_only_a_matched_approver_who_did_not_write_the_change_counts(gitlab, tenant_a, client_for):
    gitlab.gitlab("open")
    gitlab.ci_builds()
    verdicts = {who: gitlab.gitlab("approved", actor=who)["detail"] for who in ("ada", "mallory", "vera", "linus")}
    assert "opened the merge request" in verdicts["ada"]
    assert "mallory is not matched" in verdicts["mallory"]
    assert "is not an approver" in verdicts["vera"]
    assert "nightly: counted" in verdicts["linus"]
    shown = client_for(tenant_a.users[Role.VIEWER]).get("/api/v1/gitops/merge-request-promotions/",
                                                         {"merge_request_iid": 3}).json()["results"]
    assert shown[0]["approvals"] == [tenant_a.admin.username] and shown[0]["condition"] == "pending"


def test_a_new_commit_dismisses_earlier_approvals_and_supersedes_the_old_build(gitlab, tenant_a):
    gitlab.gitlab("open")
    gitlab.ci_builds()
    old = gitlab.promotion()
    gitlab.gitlab("approved", actor="linus")
    gitlab.gitlab("update", sha=SHA2)
    old.refresh_from_db()
    assert old.condition == "superseded" and old.promotion.state == "REJECTED"
    gitlab.ci_builds(sha=SHA2)
    gitlab.gitlab("merge", sha=SHA2, actor="linus")
    new = gitlab.promotion(sha=SHA2)
    assert new.condition == "rejected" and new.reason.startswith("merged_without_approval: 0 of 1")
    assert production_digest(tenant_a) != new.promotion.version.image_digest, "stale approvals promote nothing"


def test_merging_with_an_approval_deploys_that_digest_once_however_often_the_forge_redelivers(gitlab, tenant_a):
    gitlab.gitlab("open")
    build = gitlab.ci_builds()
    gitlab.gitlab("approved", actor="linus")
    merged = gitlab.gitlab("merge", actor="linus")
    assert "deployed" in merged["detail"]
    assert production_digest(tenant_a) == build["version"]["image_digest"]
    deployed_at = Deployment.objects.get(workflow__name="nightly", environment=tenant_a.production_env).deployed_at
    gitlab.gitlab("merge", actor="linus")  # the forge retries with a new delivery id
    assert Deployment.objects.get(workflow__name="nightly", environment=tenant_a.production_env).deployed_at \
        == deployed_at
    decisions = AuditEvent.objects.filter(action="merge_request.promoted")
    assert decisions.count() == 1
    assert decisions.get().after["digest"] == build["version"]["image_digest"]
    assert decisions.get().after["merge_request"].endswith("/merge_requests/3")
    assert decisions.get().actor_label == f"forge:gitlab:{REPO} (by linus)"
    assert Environment.objects.get(project=tenant_a.project, name="mr-3").torn_down_at is not None


def test_merging_before_the_build_or_without_approvals_deploys_nothing_and_says_why(gitlab, tenant_a):
    before = production_digest(tenant_a)
    gitlab.gitlab("open", iid=4)
    gitlab.gitlab("merge", iid=4, actor="linus")
    assert gitlab.promotion(iid=4).reason.startswith("merged_before_build")
    gitlab.gitlab("open", iid=5, sha=SHA2)
    gitlab.ci_builds(sha=SHA2, iid=5)
    gitlab.gitlab("merge", iid=5, sha=SHA2, actor="ada")
    rejected = gitlab.promotion(sha=SHA2, iid=5)
    assert rejected.condition == "rejected" and rejected.promotion.state == "REJECTED"
    assert production_digest(tenant_a) == before
    event = AuditEvent.objects.filter(action="merge_request.rejected").latest("pk")
    assert event.after["reason"] == "merged_without_approval" and event.after["digest"]


def test_closing_unmerged_rejects_and_tears_the_preview_down(gitlab, tenant_a):
    gitlab.gitlab("open")
    gitlab.ci_builds()
    gitlab.gitlab("close", actor="ada")
    promotion = gitlab.promotion()
    assert promotion.condition == "rejected" and promotion.promotion.state == "REJECTED"
    assert Environment.objects.get(project=tenant_a.project, name="mr-3").torn_down_at is not None


def test_a_build_registered_by_a_person_or_from_a_fork_never_promotes(gitlab, tenant_a, client_for):
    gitlab.gitlab("open", source_project_id=977)  # a fork's merge request
    body = registration_body(tenant_a, seed="by-hand") | {"git_commit_sha": SHA, "git_branch": "feature/greet"}
    assert client_for(tenant_a.users[Role.DEVELOPER]).post("/api/v1/registrations/", body,
                                                           format="json").status_code == 201
    assert gitlab.promotion().condition == "awaiting_build", "only this project's CI builds are promoted"
    gitlab.gitlab("approved", actor="linus")
    gitlab.gitlab("merge", actor="linus")
    assert gitlab.promotion().reason.startswith("merged_before_build")


def test_a_merge_requests_promotion_is_not_approved_through_the_api(gitlab, tenant_a, client_for):
    gitlab.gitlab("open")
    gitlab.ci_builds()
    promotion = gitlab.promotion().promotion
    response = client_for(tenant_a.admin).post(f"/api/v1/promotions/{promotion.pk}/approve/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "approve_in_merge_request"
    assert Promotion.objects.get(pk=promotion.pk).state == "PENDING"


def test_github_pull_request_reviews_drive_the_same_promotion(tenant_a, client_for):
    github = Forge(tenant_a, client_for, forge="github")
    github.send(github_pull_request_event("opened", number=3, sha=SHA, author="ada"), event="pull_request")
    build = github.ci_builds()
    review = github.send(github_review_event("submitted", number=3, sha=SHA, author="ada", reviewer="linus"),
                         event="pull_request_review")
    assert "nightly: counted" in review["detail"]
    github.send(github_review_event("dismissed", number=3, sha=SHA, author="ada", reviewer="linus"),
                event="pull_request_review")
    github.send(github_review_event("submitted", number=3, sha=SHA, author="ada", reviewer="linus"),
                event="pull_request_review")
    github.send(github_pull_request_event("closed", number=3, sha=SHA, author="ada", sender="linus", merged=True),
                event="pull_request")
    assert production_digest(tenant_a) == build["version"]["image_digest"]
    assert github.promotion().condition == "promoted"


def test_a_link_that_asks_for_a_successful_test_run_promotes_only_a_build_that_had_one(gitlab, tenant_a):
    from controlplane.runs.models import Run

    RepositoryLink.objects.filter(pk=gitlab.link.pk).update(require_test_success=True)
    gitlab.gitlab("open")
    build = gitlab.ci_builds()
    gitlab.gitlab("approved", actor="linus")
    deployment = Deployment.objects.get(pk=build["deployment"]["id"])
    Run.objects.create(deployment=deployment, version=deployment.version, state="FAILED", trigger="api")
    gitlab.gitlab("merge", actor="linus")
    assert gitlab.promotion().reason.startswith("no_successful_test_run")
    assert production_digest(tenant_a) != build["version"]["image_digest"]

    gitlab.gitlab("open", iid=6, sha=SHA2)
    second = gitlab.ci_builds(sha=SHA2, iid=6)
    gitlab.gitlab("approved", actor="linus", iid=6, sha=SHA2)
    tested = Deployment.objects.get(pk=second["deployment"]["id"])
    Run.objects.create(deployment=tested, version=tested.version, state="SUCCEEDED", trigger="api")
    gitlab.gitlab("merge", actor="linus", iid=6, sha=SHA2)
    assert gitlab.promotion(sha=SHA2, iid=6).condition == "promoted"
    assert production_digest(tenant_a) == second["version"]["image_digest"]
