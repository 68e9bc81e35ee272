"""Issue 12's acceptance, end to end: a bare git repository the team pushes to, a live control plane, the real
registry, and `flowyard ci` run for real in the merge request's pipelines. The repository is linked as its project's
admin, forge logins are matched to people by platform staff, and the forge's webhooks come in over HTTP to the
receiver the link names (GitLab's token; GitHub's signature, with payloads from @octokit/webhooks-examples).

An opened merge request proposes exactly the digest its CI pushed (PENDING, from its preview mr-<iid>); the
author's approval does not count, another approver's does; a new push dismisses it and supersedes the old build;
re-approved and merged, production runs the merge request's head digest, deployed once however often the merge is
redelivered.
"""

from __future__ import annotations

import uuid

import pytest

from flowyard_testkit.docker_env import docker_client, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.forge_events import github_pull_request_event, github_review_event, gitlab_merge_request_hook
from flowyard_testkit.merge_requests import (
    LiveForge,
    api_as,
    bare_repository,
    branch_head,
    ci_checkout,
    commit_change,
    gitlab_merge_request_pipeline,
    push,
    registry_digest,
)
from flowyard_testkit.pipelines import (
    BRANCH,
    GITHUB_REPOSITORY,
    example_checkout,
    flowyard_settings,
    github_pull_request,
    job_environment,
    own_image_repository,
    run_flowyard_ci,
)
from flowyard_testkit.tenants import build_tenant
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db(transaction=True)
NAMES = ["Ada", "Grace", "Edsger"]
AUTHOR, REVIEWER = "ada", "linus"  # forge logins: ada opens the merge request; linus reviews it


class Team:
    """One team's repository on a forge, linked to its project on the live control plane: the developer's working
    copy, the forge's bare repository, the CI runner's checkout, and who is who."""

    def __init__(self, tmp_path, live_server, registry, image_cleanup, *, forge, prefix):  # noqa: F811
        from django.contrib.auth import get_user_model

        self.tmp_path, self.live_server, self.image_cleanup, self.forge = tmp_path, live_server, image_cleanup, forge
        self.tenant = build_tenant(prefix)
        self.approver, self.admin = self.tenant.users[Role.APPROVER], self.tenant.admin
        self.image = own_image_repository(registry, f"mr-{forge}")
        self.job_dir = tmp_path / "runner" / "hello"

        # The team's repository: the example on main, then feature/greet with a change, pushed to the forge.
        self.repo, base = example_checkout(tmp_path, detached=False)
        self.bare = bare_repository(tmp_path / "forge" / "hello.git")
        push(self.repo, self.bare, base, "main")
        self.head = self.commit_and_push("Greet Barbara too", NAMES + ["Barbara"])

        # Linked by the project's admin (a file:// clone URL: the bare repository), its secret shown once.
        path = "analytics/hello" if forge == "gitlab" else GITHUB_REPOSITORY
        answer = api_as(live_server, self.admin).post("/api/v1/gitops/repositories/", {
            "project": str(self.tenant.project.pk), "forge": forge, "repository_path": path,
            "clone_url": self.bare.as_uri(), "workflows": [{"name": "hello", "path": "."}]})
        assert answer.status_code == 201, answer.text
        self.link = answer.json()
        assert self.link["webhook_url"].endswith(f"/api/v1/gitops/{forge}/{self.link['id']}/events")
        assert self.link["clone_url"] == f"file://{self.bare}"
        self.hook = LiveForge.from_link(self.link)

        # Platform staff match the forge logins to people: ada is an approver, linus the project's admin.
        staff = get_user_model().objects.create_user(f"{prefix}-platform", password="pw", is_staff=True)
        as_staff = api_as(live_server, staff)
        for login, user in ((AUTHOR, self.approver), (REVIEWER, self.admin)):
            matched = as_staff.post("/api/v1/gitops/identities/", {"forge": forge, "username": login,
                                                                     "user": user.username})
            assert matched.status_code == 201, matched.text
        self.viewer = api_as(live_server, self.tenant.users[Role.VIEWER])

    def commit_and_push(self, message: str, names: list[str]) -> str:
        """The developer commits a change on feature/greet and pushes it to the forge; the new head."""
        sha = commit_change(self.repo, message, {"parameters": {"day": "{{ scheduled_date }}", "names": names}})
        push(self.repo, self.bare, sha, BRANCH)
        assert branch_head(self.bare, BRANCH) == sha
        return sha

    def pipeline(self, sha: str, variables: dict[str, str], preview: str) -> str:
        """The merge request's CI job: check `sha` out from the forge and run `flowyard ci`; the digest the
        registry holds for its tag, which must be the digest registered for that commit and the one
        `flowyard ci` says it pushed."""
        from flowyard_builder.images.results import LAST_PUSH, load_result

        tag = f"{self.image}:{sha[:8]}"
        self.image_cleanup.append(tag)
        job = ci_checkout(self.bare, self.job_dir, sha)
        settings = flowyard_settings(self.live_server, self.tenant.ci_token_value, self.tenant.project.slug,
                                     self.image)
        result = run_flowyard_ci(job, job_environment(**variables, **settings), timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"deployed to {preview}" in result.stderr, result.stderr
        digest = registry_digest(tag)
        assert load_result(job, LAST_PUSH)["image_digest"] == digest
        version = self.version_of(sha)
        assert (version.image_digest, version.image_ref, version.git_branch) == (digest, tag, BRANCH)
        assert version.registered_by_label.startswith("ci-token:")
        return digest

    def version_of(self, sha: str):
        from controlplane.workflows.models import WorkflowVersion

        return WorkflowVersion.objects.get(workflow__project=self.tenant.project, workflow__name="hello",
                                           git_commit_sha=sha)

    def send(self, payload, *, event=None, delivery_id=None) -> dict:
        answer = self.hook.deliver(payload, event=event, delivery_id=delivery_id)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def promotion_at(self, sha: str, iid: int):
        from controlplane.gitops.models import MergeRequestPromotion

        return MergeRequestPromotion.objects.select_related("promotion__version").get(
            merge_request__link_id=self.link["id"], merge_request__iid=iid, workflow__name="hello", head_sha=sha)

    def approvals_shown(self, sha: str, iid: int) -> list[str]:
        """Whose approvals count for the promotion of `sha`, as the API shows a viewer of the project."""
        answer = self.viewer.get("/api/v1/gitops/merge-request-promotions/", merge_request_iid=iid,
                                 project=str(self.tenant.project.pk))
        assert answer.status_code == 200, answer.text
        shown = [row for row in answer.json()["results"] if row["head_sha"] == sha]
        assert len(shown) == 1, answer.json()
        return shown[0]["approvals"]

    def production(self):
        from controlplane.deployments.models import Deployment

        return Deployment.objects.filter(workflow__project=self.tenant.project, workflow__name="hello",
                                         environment__name="production")


def assert_pending_with(team: Team, sha: str, iid: int, digest: str):
    mrp = team.promotion_at(sha, iid)
    assert mrp.condition == "pending", mrp.reason
    promotion = mrp.promotion
    assert promotion.state == "PENDING"
    assert promotion.version.image_digest == digest, "exactly the digest the merge request's CI pushed"
    assert (promotion.source_environment.name, promotion.target_environment.name) == (f"mr-{iid}", "production")
    assert promotion.requested_for == AUTHOR
    assert not team.production().exists(), "nothing reaches production before the merge"
    return mrp


def assert_merged_once(team: Team, merges: list[dict], replayed: dict, *, sha: str, iid: int, digest: str,
                       url: str) -> None:
    from controlplane.core.models import AuditEvent
    from controlplane.deployments.models import Environment, Promotion

    assert merges[0]["detail"].startswith("merged; hello: deployed sha256:"), merges[0]
    assert all("hello: already promoted" in merge["detail"] for merge in merges[1:]), merges
    assert replayed["replayed"] is True and replayed["detail"] == merges[0]["detail"], replayed
    deployment = team.production().get()
    assert deployment.version.image_digest == digest and deployment.version.git_commit_sha == sha
    assert deployment.version.git_commit_sha == branch_head(team.bare, "main"), "production runs what main holds"
    mrp = team.promotion_at(sha, iid)
    assert mrp.condition == "promoted" and mrp.promotion.state == "APPROVED"
    assert Promotion.objects.filter(workflow__project=team.tenant.project, workflow__name="hello",
                                    state="APPROVED").count() == 1
    decisions = AuditEvent.objects.filter(action="merge_request.promoted", project=team.tenant.project)
    assert decisions.count() == 1, "one deployment, however many redeliveries"
    assert (decisions.get().after["digest"], decisions.get().after["merge_request"]) == (digest, url)
    assert decisions.get().after["approvals"] == [team.admin.username]
    preview = Environment.objects.get(project=team.tenant.project, name=f"mr-{iid}")
    assert preview.torn_down_at is not None, "the merged merge request's preview is torn down"


def test_a_gitlab_merge_request_promotes_exactly_its_approved_head_once(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    iid = 11
    team = Team(tmp_path, live_server, registry, image_cleanup, forge="gitlab", prefix="mrgl")
    url = f"https://gitlab.example.com/analytics/hello/-/merge_requests/{iid}"

    def hook(action, sha, actor=AUTHOR):
        return gitlab_merge_request_hook(action, iid=iid, sha=sha, actor=actor, repository="analytics/hello")

    # The merge request's pipeline builds the pushed head, registers it and deploys it to its preview mr-11.
    first_sha = team.head
    first_digest = team.pipeline(first_sha, gitlab_merge_request_pipeline(first_sha, iid), f"mr-{iid}")
    assert team.version_of(first_sha).merge_request_iid == iid

    opened = team.send(hook("open", first_sha))
    assert "hello: pending" in opened["detail"], opened
    first = assert_pending_with(team, first_sha, iid, first_digest)
    assert first.promotion.merge_request_url == url

    # The author's approval does not count; another approver's does.
    own = team.send(hook("approved", first_sha, actor=AUTHOR))
    assert "opened the merge request" in own["detail"] and "counted" not in own["detail"], own
    assert team.approvals_shown(first_sha, iid) == []
    other = team.send(hook("approved", first_sha, actor=REVIEWER))
    assert "hello: counted" in other["detail"], other
    assert team.approvals_shown(first_sha, iid) == [team.admin.username]

    # A new push: GitLab's update comes at once, dismissing both approvals and superseding the first build; the
    # new head waits for its build until the pipeline registers it.
    second_sha = team.commit_and_push("Greet Margaret as well", NAMES + ["Barbara", "Margaret"])
    updated = team.send(hook("update", second_sha))
    assert "2 earlier approval(s) dismissed" in updated["detail"] and "hello: awaiting_build" in updated["detail"], \
        updated
    first.refresh_from_db()
    first.promotion.refresh_from_db()
    assert first.condition == "superseded" and first.promotion.state == "REJECTED"
    assert team.approvals_shown(second_sha, iid) == []
    from controlplane.gitops.models import MergeRequestApproval

    stale = MergeRequestApproval.objects.get(merge_request__link_id=team.link["id"], forge_username=REVIEWER)
    assert stale.head_sha == first_sha and stale.dismissed_because == f"new commit {second_sha[:8]} pushed"
    assert team.promotion_at(second_sha, iid).condition == "awaiting_build"

    second_digest = team.pipeline(second_sha, gitlab_merge_request_pipeline(second_sha, iid), f"mr-{iid}")
    assert second_digest != first_digest
    assert_pending_with(team, second_sha, iid, second_digest)

    again = team.send(hook("approved", second_sha, actor=REVIEWER))
    assert "hello: counted" in again["detail"], again
    assert team.approvals_shown(second_sha, iid) == [team.admin.username]

    # GitLab merges (main fast-forwards to the head) and delivers the merge hook; it retries with new delivery
    # ids, and someone presses "Resend" on the first one.
    push(team.repo, team.bare, second_sha, "main")
    first_delivery = f"merge-{uuid.uuid4()}"
    merges = [team.send(hook("merge", second_sha, actor=REVIEWER), delivery_id=first_delivery)]
    deployed_at = team.production().get().deployed_at
    merges += [team.send(hook("merge", second_sha, actor=REVIEWER)) for _ in range(2)]
    replayed = team.hook.replay(first_delivery)
    assert replayed.status_code == 200, replayed.text
    assert team.production().get().deployed_at == deployed_at, "a redelivered merge deploys nothing again"
    assert_merged_once(team, merges, replayed.json(), sha=second_sha, iid=iid, digest=second_digest, url=url)


def test_a_github_pull_request_promotes_exactly_its_approved_head_once(
    tmp_path, live_server, registry, runtime_image, wheel_cache, image_cleanup  # noqa: F811
):
    number = 12
    team = Team(tmp_path, live_server, registry, image_cleanup, forge="github", prefix="mrgh")
    url = f"https://github.com/{GITHUB_REPOSITORY}/pull/{number}"
    events = tmp_path / "events"
    events.mkdir()

    def pull_request(action, sha, sender=AUTHOR, merged=False, delivery_id=None):
        return team.send(github_pull_request_event(action, number=number, sha=sha, author=AUTHOR, sender=sender,
                                                   merged=merged), event="pull_request", delivery_id=delivery_id)

    def review(action, sha, reviewer):
        return team.send(github_review_event(action, number=number, sha=sha, author=AUTHOR, reviewer=reviewer),
                         event="pull_request_review")

    def pipeline(sha, action):
        variables = github_pull_request(sha, events, number=number, action=action, author=AUTHOR)
        return team.pipeline(sha, variables, f"mr-{number}")

    first_sha = team.head
    first_digest = pipeline(first_sha, "opened")
    opened = pull_request("opened", first_sha)
    assert "hello: pending" in opened["detail"], opened
    first = assert_pending_with(team, first_sha, number, first_digest)
    assert first.promotion.merge_request_url == url

    own = review("submitted", first_sha, AUTHOR)
    assert "opened the merge request" in own["detail"] and "counted" not in own["detail"], own
    other = review("submitted", first_sha, REVIEWER)
    assert "hello: counted" in other["detail"], other
    assert team.approvals_shown(first_sha, number) == [team.admin.username]

    # A new push: this time the pipeline registers the new head before GitHub's synchronize arrives; GitHub then
    # dismisses the stale review too (branch protection's "dismiss stale approvals").
    second_sha = team.commit_and_push("Greet Margaret as well", NAMES + ["Barbara", "Margaret"])
    second_digest = pipeline(second_sha, "synchronize")
    assert second_digest != first_digest
    synchronized = pull_request("synchronize", second_sha)
    assert "2 earlier approval(s) dismissed" in synchronized["detail"] and "hello: pending" in synchronized["detail"], \
        synchronized
    first.refresh_from_db()
    first.promotion.refresh_from_db()
    assert first.condition == "superseded" and first.promotion.state == "REJECTED"
    assert team.approvals_shown(second_sha, number) == []
    dismissed = review("dismissed", first_sha, REVIEWER)
    assert dismissed["detail"] == f"0 approval(s) by {REVIEWER} withdrawn", "the new push dismissed it already"
    assert_pending_with(team, second_sha, number, second_digest)
    assert team.approvals_shown(second_sha, number) == []

    again = review("submitted", second_sha, REVIEWER)
    assert "hello: counted" in again["detail"], again
    assert team.approvals_shown(second_sha, number) == [team.admin.username]

    # Merged on GitHub (main fast-forwards to the head): closed with merged=true, redelivered as above.
    push(team.repo, team.bare, second_sha, "main")
    first_delivery = str(uuid.uuid4())
    merges = [pull_request("closed", second_sha, sender=REVIEWER, merged=True, delivery_id=first_delivery)]
    deployed_at = team.production().get().deployed_at
    merges += [pull_request("closed", second_sha, sender=REVIEWER, merged=True) for _ in range(2)]
    replayed = team.hook.replay(first_delivery)
    assert replayed.status_code == 200, replayed.text
    assert team.production().get().deployed_at == deployed_at, "a redelivered merge deploys nothing again"
    assert_merged_once(team, merges, replayed.json(), sha=second_sha, iid=number, digest=second_digest, url=url)
