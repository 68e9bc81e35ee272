"""Reconcile from Git: a real bare repository on disk (made with GitPython, fetched over file://) linked to tenant
A's project; its default branch's head is compared with the deployments through the API (`diff`, `sync`) and the
periodic task. Each drift kind with its field-level diff; the sync pauses what Git removed and gives test Git's CI
build back, never touches production, and an unreadable repository only sets the link's error state."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import git
import pytest

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment, Promotion
from controlplane.gitops.drift import Drift, DriftKind, FieldChange
from controlplane.gitops.git import redact
from controlplane.gitops.tasks import sync_repositories
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.states import Role
from flowyard_testkit.tenants import digest
from flowyard_testkit.writes import registration_body

WORKFLOWS = ("load", "score", "cleanup")


def config(name: str, **changes) -> dict:
    """A workflow's flowyard.json."""
    return {"name": name, "schedule-enabled": True, "schedule": "cron(0 14 * * ? *)", "parameters": {"limit": 10},
            "memory": 1024, "cpu": 512, **changes}


class Repository:
    """The team's working copy and the forge's bare repository it pushes `main` to."""

    def __init__(self, root: Path) -> None:
        self.bare_path = root / "forge" / "pipelines.git"
        git.Repo.init(self.bare_path, bare=True, initial_branch="main")
        self.work = git.Repo.init(root / "work", initial_branch="main")
        with self.work.config_writer() as writer:
            writer.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.invalid")

    @property
    def url(self) -> str:
        """The clone URL the link has: file://…"""
        return self.bare_path.as_uri()

    def commit(self, message: str, files: dict[str, object | None]) -> str:
        """Write (a dict: as JSON; a str: as is) or delete (None) files, commit and push; the new head."""
        root = Path(self.work.working_tree_dir)
        for path, content in files.items():
            target = root / path
            if content is None:
                self.work.index.remove([path], working_tree=True, r=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
            self.work.index.add([path])
        sha = self.work.index.commit(message).hexsha
        self.work.git.push(str(self.bare_path), "HEAD:refs/heads/main")
        return sha


class Team:
    """Tenant A's project with its repository linked (the fixture link, pointed at the bare repository)."""

    def __init__(self, tenant, client_for, root: Path) -> None:
        self.tenant, self.client_for = tenant, client_for
        self.repo = Repository(root)
        self.link = tenant.extra["repository_link"]
        self.link.clone_url = self.repo.url
        self.link.workflows = [{"name": name, "path": name} for name in WORKFLOWS]
        self.link.save()
        self.head = self.repo.commit("Three workflows", {f"{name}/flowyard.json": config(name) for name in WORKFLOWS})

    def ci_builds(self, sha: str, names=WORKFLOWS, event: str = "default_branch", branch: str = "main",
                  **changes) -> dict[str, WorkflowVersion]:
        """This project's CI registers a build of each workflow at `sha` (deployed to test by the release rules)."""
        client = self.client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tenant.ci_token_value}")
        built = {}
        for name in names:
            body = registration_body(self.tenant, name=name, seed=f"{sha}-{name}-{changes}") | {
                "event": event, "git_branch": branch, "git_commit_sha": sha, "config": config(name, **changes)}
            response = client.post("/api/v1/registrations/", body, format="json")
            assert response.status_code in (200, 201), response.json()
            built[name] = WorkflowVersion.objects.get(pk=response.json()["version"]["id"])
        return built

    def as_role(self, role: Role):
        return self.client_for(self.tenant.users[role])

    def diff(self, role: Role = Role.VIEWER) -> dict:
        response = self.as_role(role).get(f"/api/v1/gitops/repositories/{self.link.pk}/diff/")
        assert response.status_code == 200, response.json()
        return response.json()

    def sync(self, role: Role = Role.ADMIN) -> dict:
        response = self.as_role(role).post(f"/api/v1/gitops/repositories/{self.link.pk}/sync/", format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    def deployment(self, name: str, environment: str = "test") -> Deployment:
        return Deployment.objects.select_related("version").get(
            workflow__project=self.tenant.project, workflow__name=name, environment__name=environment)

    def persons_version(self, name: str, seed: str = "hotfix") -> str:
        """A developer registers a build by hand (POST /api/v1/versions/, not deployed); its id."""
        workflow = Workflow.objects.get(project=self.tenant.project, name=name)
        response = self.as_role(Role.DEVELOPER).post("/api/v1/versions/", {
            "workflow": str(workflow.pk), "image_ref": f"127.0.0.1:5000/alpha/{name}:{seed}",
            "image_digest": digest(f"{name}-{seed}"), "config": config(name, memory=4096)}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    def promote(self, name: str) -> Deployment:
        """Promote what runs in test to production through an approved promotion."""
        workflow = Workflow.objects.get(project=self.tenant.project, name=name)
        promotion = Promotion.objects.filter(workflow=workflow, state="PENDING").first() or \
            deployments.promotion_request(  # a default-branch build asked for it already, unless the rules say not
                actor=self.tenant.users[Role.DEVELOPER], workflow=workflow, source_environment=self.tenant.test_env,
                target_environment=self.tenant.production_env)
        deployments.promotion_approve(actor=self.tenant.users[Role.APPROVER], promotion=promotion)
        return self.deployment(name, "production")


@pytest.fixture
def team(tenant_a, client_for, tmp_path) -> Team:
    return Team(tenant_a, client_for, tmp_path)


def kinds(report: dict) -> list[tuple[str, str, str]]:
    return sorted((drift["kind"], drift["workflow"], drift["environment"]) for drift in report["drift"])


def changes_of(report: dict, kind: str, workflow: str) -> dict[str, tuple]:
    drift = next(d for d in report["drift"] if d["kind"] == kind and d["workflow"] == workflow)
    return {change["field"]: (change["git"], change["deployed"]) for change in drift["changes"]}


def row(deployment: Deployment) -> tuple:
    deployment.refresh_from_db()
    return (deployment.version_id, deployment.is_paused, deployment.deployed_at, deployment.deployed_by_label,
            deployment.updated_at)


def test_test_running_the_head_build_is_no_drift(team):
    team.ci_builds(team.head)
    report = team.diff()
    assert (report["error"], report["head_sha"], report["drift"], report["diff"]) == ("", team.head, [], "")
    assert report["branch"] == "main" and report["clone_url"] == team.repo.url


def test_a_changed_deployment_a_new_config_and_a_removed_workflow_are_the_drift_and_the_sync_fixes_what_it_may(
        team, tenant_a):
    built = team.ci_builds(team.head)
    production = team.promote("load")
    production_before = row(production)
    hotfix = team.as_role(Role.DEVELOPER).patch(f"/api/v1/deployments/{team.deployment('score').pk}/",
                                               {"version": team.persons_version("score")}, format="json")
    assert hotfix.status_code == 200, hotfix.json()
    team.repo.commit("Load at three", {"load/flowyard.json": config("load", schedule="cron(0 15 * * ? *)")})
    head = team.repo.commit("Cleanup is gone", {"cleanup/flowyard.json": None})

    report = team.diff()
    assert report["head_sha"] == head
    assert kinds(report) == [("changed_outside_git", "score", "test"), ("not_built", "load", "test"),
                             ("removed_from_git", "cleanup", "test")]
    assert changes_of(report, "not_built", "load") == {
        "git_commit": (head, team.head), "schedule": ("cron(0 15 * * ? *)", "cron(0 14 * * ? *)")}
    score = changes_of(report, "changed_outside_git", "score")
    assert score["image_digest"] == (built["score"].image_digest, digest("score-hotfix"))
    assert score["deployed_by"] == (f"ci-token:gitlab@{tenant_a.project.slug}", tenant_a.users[Role.DEVELOPER].username)
    assert score["memory"] == (1024, 4096), "the config fields the person's build changed, too"
    assert changes_of(report, "removed_from_git", "cleanup")["flowyard.json"] == ("(removed)", "cleanup/flowyard.json")
    diff = report["diff"].splitlines()
    at = diff.index("--- deployed/test/score")
    assert diff[at + 1] == f"+++ git/{head[:8]}/score" and diff[at + 2].startswith("@@ changed_outside_git: ")
    assert [line for line in diff if line.startswith("---")] == [
        "--- deployed/test/load", "--- deployed/test/score", "--- deployed/test/cleanup"], "in the link's order"
    assert "-schedule: cron(0 14 * * ? *)" in diff and "+schedule: cron(0 15 * * ? *)" in diff
    assert "-memory: 4096" in diff and "+memory: 1024" in diff
    assert team.diff()["drift"] == report["drift"], "a diff changes nothing"

    events = AuditEvent.objects.count()
    synced = team.sync()
    assert {(a["action"], a["workflow"]) for a in synced["applied"]} == {("paused", "cleanup"), ("deployed", "score")}
    assert (synced["sync_error"], synced["error"]) == ("", "") and synced["last_sync_at"]
    cleanup = team.deployment("cleanup")
    assert cleanup.is_paused and cleanup.version_id == built["cleanup"].pk, "paused, not deleted"
    score = team.deployment("score")
    assert score.version_id == built["score"].pk and score.deployed_by_label.startswith("gitops:gitlab:")
    assert team.deployment("load").version_id == built["load"].pk, "not built: nothing to deploy"
    assert row(production) == production_before, "production is never touched"
    event = AuditEvent.objects.filter(action="gitops.synced").latest("pk")
    assert event.actor == tenant_a.admin and event.project == tenant_a.project
    assert sorted(d["kind"] for d in event.after["drift"]) == ["changed_outside_git", "not_built", "removed_from_git"]
    assert AuditEvent.objects.count() == events + 3, "the sync's event and one per deployment it changed"

    assert kinds(team.diff()) == [("not_built", "load", "test")], "left: what only CI can fix"
    team.ci_builds(head, names=["load"], schedule="cron(0 15 * * ? *)")
    assert team.diff()["drift"] == [], "score's folder has not changed since its build: that build still counts"
    assert team.sync()["applied"] == []


def test_a_ci_build_of_another_branch_in_test_is_a_config_difference_the_sync_leaves(team):
    team.ci_builds(team.head)
    branch = team.ci_builds("b" * 40, names=["score"], event="branch_push", branch="feature/bigger", memory=4096)
    report = team.diff()
    assert kinds(report) == [("config_differs", "score", "test")]
    assert changes_of(report, "config_differs", "score") == {"memory": (1024, 4096)}
    assert report["drift"][0]["fix"] == "report"
    team.sync()
    assert team.deployment("score").version_id == branch["score"].pk


def test_production_not_running_its_promoted_version_is_reported_and_left_alone(team, tenant_a):
    built = team.ci_builds(team.head)
    team.promote("load")
    assert team.diff()["drift"] == []
    other = WorkflowVersion.objects.get(pk=team.persons_version("load", seed="direct"))
    direct = team.as_role(Role.ADMIN).patch(f"/api/v1/deployments/{team.deployment('load', 'production').pk}/",
                                            {"version": str(other.pk)}, format="json")
    assert direct.status_code == 200, direct.json()
    report = team.diff()
    assert kinds(report) == [("production_not_promoted", "load", "production")]
    changes = changes_of(report, "production_not_promoted", "load")
    assert changes["image_digest"] == (built["load"].image_digest, other.image_digest)
    before = row(team.deployment("load", "production"))
    assert team.sync()["applied"] == []
    assert row(team.deployment("load", "production")) == before

    team.ci_builds(team.head, names=["score"])
    deployments.deployment_set(actor=tenant_a.admin, workflow=Workflow.objects.get(project=tenant_a.project,
                                                                                   name="score"),
                               environment=tenant_a.production_env, version=built["score"])
    assert ("production_not_promoted", "score", "production") in kinds(team.diff()), "never promoted at all"


def test_a_workflow_removed_from_git_is_paused_in_test_but_only_reported_in_production(team):
    team.ci_builds(team.head)
    production = team.promote("cleanup")
    before = row(production)
    head = team.repo.commit("Cleanup is gone", {"cleanup/flowyard.json": None})
    report = team.diff()
    assert kinds(report) == [("removed_from_git", "cleanup", "production"), ("removed_from_git", "cleanup", "test")]
    fixes = {d["environment"]: d["fix"] for d in report["drift"]}
    assert fixes == {"test": "pause", "production": "report"}
    assert report["head_sha"] == head
    team.sync()
    assert team.deployment("cleanup").is_paused and row(production) == before
    assert kinds(team.diff()) == [("removed_from_git", "cleanup", "production")], "paused in test: settled"


def test_a_configuration_a_workflow_never_had_built_is_not_built_with_every_field(team):
    report = team.diff()
    assert kinds(report) == [("not_built", name, "test") for name in sorted(WORKFLOWS)]
    assert changes_of(report, "not_built", "load")["memory"] == (1024, None)


@pytest.mark.parametrize("broken, problem", [
    ("{not json", "score/flowyard.json is not JSON"),
    (json.dumps(config("score", colour="blue")), "score/flowyard.json is not a valid config: colour"),
    (json.dumps(config("other")), "names the workflow 'other'"),
])
def test_a_malformed_config_is_the_links_error_and_nothing_changes(team, fingerprint, broken, problem):
    team.ci_builds(team.head)
    hotfix = team.as_role(Role.DEVELOPER).patch(f"/api/v1/deployments/{team.deployment('load').pk}/",
                                               {"version": team.persons_version("load")}, format="json")
    assert hotfix.status_code == 200
    team.repo.commit("Break it", {"score/flowyard.json": broken, "cleanup/flowyard.json": None})
    before = fingerprint()
    report = team.sync()
    assert problem in report["error"] and report["error_code"] == "repository_malformed"
    assert report["drift"] == [] and report["applied"] == []
    team.link.refresh_from_db()
    assert problem in team.link.sync_error
    after = fingerprint()
    assert {k: v for k, v in after.items() if k != "core.AuditEvent"} == \
           {k: v for k, v in before.items() if k != "core.AuditEvent"}, "nothing deployed changes"


def test_an_unreachable_repository_sets_the_links_error_with_gits_message_and_changes_nothing(
        team, tenant_a, fingerprint, tmp_path):
    team.ci_builds(team.head)
    team.link.clone_url = (tmp_path / "nowhere.git").as_uri()
    team.link.save()
    before, events = fingerprint(), AuditEvent.objects.count()
    diff = team.diff()
    assert "does not appear to be a git repository" in diff["error"] and diff["error_code"] == "repository_unreachable"
    team.link.refresh_from_db()
    assert team.link.sync_error == "" and team.link.last_sync_at is None, "a diff changes nothing"

    report = team.sync()
    assert "does not appear to be a git repository" in report["error"]
    team.link.refresh_from_db()
    assert team.link.sync_error == report["error"] == report["sync_error"] and team.link.last_sync_at is not None
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("pk")
    assert (event.action, event.actor) == ("gitops.sync_failed", tenant_a.admin)
    assert {k: v for k, v in fingerprint().items() if k != "core.AuditEvent"} == \
           {k: v for k, v in before.items() if k != "core.AuditEvent"}

    team.link.clone_url = team.repo.url
    team.link.save()
    assert team.sync()["sync_error"] == "", "a good sync clears the error"


def test_credentials_in_the_clone_url_are_never_shown(team):
    with socket.socket() as probe:  # a port on loopback nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    team.link.clone_url = f"https://ada:s3cret-token@127.0.0.1:{port}/data/pipelines.git"
    team.link.save()
    report = team.sync()
    assert report["error"] and "s3cret-token" not in json.dumps(report)
    assert f"https://***@127.0.0.1:{port}" in report["clone_url"]
    assert "s3cret" not in AuditEvent.objects.latest("pk").after["error"]
    assert redact("fatal: https://u:p@h/x and ssh://git@h/y") == "fatal: https://***@h/x and ssh://***@h/y"


def test_a_placeholder_host_under_invalid_is_refused_without_a_lookup(tenant_a, client_for):
    link = tenant_a.extra["repository_link"]  # https://git.example.invalid/…: RFC 6761, never resolved
    response = client_for(tenant_a.admin).post(f"/api/v1/gitops/repositories/{link.pk}/sync/", format="json")
    assert response.status_code == 200
    assert "Could not resolve host: git.example.invalid" in response.json()["sync_error"]


def test_who_may_diff_and_sync(team, tenant_b, client_for):
    assert team.as_role(Role.VIEWER).get(f"/api/v1/gitops/repositories/{team.link.pk}/diff/").status_code == 200
    refused = team.as_role(Role.APPROVER).post(f"/api/v1/gitops/repositories/{team.link.pk}/sync/", format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    other = client_for(tenant_b.admin)
    assert other.get(f"/api/v1/gitops/repositories/{team.link.pk}/diff/").status_code == 404
    assert other.post(f"/api/v1/gitops/repositories/{team.link.pk}/sync/", format="json").status_code == 404


def test_the_periodic_task_syncs_every_link_and_one_failing_never_stops_the_others(team, tenant_b):
    team.ci_builds(team.head)
    hotfix = team.as_role(Role.DEVELOPER).patch(f"/api/v1/deployments/{team.deployment('score').pk}/",
                                               {"version": team.persons_version("score")}, format="json")
    assert hotfix.status_code == 200
    broken = tenant_b.extra["repository_link"]  # https://git.example.invalid/…
    outcomes = sync_repositories()
    assert outcomes[str(team.link.pk)] == "applied 1"
    assert "Could not resolve host" in outcomes[str(broken.pk)]
    assert team.deployment("score").deployed_by_label == "gitops:gitlab:" + team.link.repository_path
    events = AuditEvent.objects.count()
    sync_repositories()
    assert AuditEvent.objects.count() == events, "nothing new: the periodic sync leaves no audit event"


def test_a_drift_reads_like_git_diff():
    drift = Drift(kind=DriftKind.CONFIG_DIFFERS, workflow="etl", environment="test", head_sha="0123456789abcdef",
                  summary="differs", changes=[FieldChange("parameters", {"a": 1}, {"a": 2}),
                                              FieldChange("timeout", None, 60)])
    assert drift.as_diff_lines() == ["--- deployed/test/etl", "+++ git/01234567/etl", "@@ config_differs: differs @@",
                                     '-parameters: {"a": 2}', '+parameters: {"a": 1}', "-timeout: 60",
                                     "+timeout: (none)"]
    assert drift.as_dict()["changes"][1] == {"field": "timeout", "git": None, "deployed": 60}
