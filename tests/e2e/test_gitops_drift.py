"""Issue 12 part 3's acceptance, end to end: a bare git repository on disk holding three workflows, linked to its
project through the API of a live control plane (cloned over file://), this project's CI registering the head's
builds, and `flowyard gitops diff|sync` run as people do.

A developer changes a test deployment through the API, the team changes one workflow's config in Git and deletes
another workflow's folder → `gitops diff` lists exactly those three drifts, like `git diff`; `gitops sync` pauses the
removed workflow (not deleted), gives test the CI build Git says back, leaves the unbuilt config to CI, and leaves
production exactly as its approved promotion made it. A repository that cannot be fetched leaves its link in error
with git's message and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
import requests

from flowyard_testkit.live import cli, tenant, tokens  # noqa: F401
from flowyard_testkit.tenants import digest
from flowyard_testkit.writes import registration_body
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db(transaction=True)
PROJECT = "alpha-main"
WORKFLOWS = ("load", "score", "cleanup")


def config(name: str, **changes) -> dict:
    """A workflow's flowyard.json."""
    return {"name": name, "schedule-enabled": True, "schedule": "cron(0 14 * * ? *)", "parameters": {"limit": 10},
            "memory": 1024, "cpu": 512, "cloud-execution-environment": "docker", **changes}


class Repository:
    """The team's working copy, pushing `main` to the forge's bare repository."""

    def __init__(self, root: Path) -> None:
        self.bare_path = root / "forge" / "pipelines.git"
        git.Repo.init(self.bare_path, bare=True, initial_branch="main")
        self.work = git.Repo.init(root / "work", initial_branch="main")
        with self.work.config_writer() as writer:
            writer.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.invalid")

    def commit(self, message: str, files: dict[str, dict | None]) -> str:
        """Write (JSON) or delete (None) files, commit, push; the new head."""
        root = Path(self.work.working_tree_dir)
        for path, content in files.items():
            if content is None:
                self.work.index.remove([path], working_tree=True, r=True)
            else:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(json.dumps(content, indent=2))
                self.work.index.add([path])
        sha = self.work.index.commit(message).hexsha
        self.work.git.push(str(self.bare_path), "HEAD:refs/heads/main")
        return sha


class Api:
    """HTTP calls to the live control plane with one bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.session = url.rstrip("/") + "/api/v1", requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict) -> dict:
        response = self.session.post(self.url + path, json=body, timeout=60)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def patch(self, path: str, body: dict) -> dict:
        response = self.session.patch(self.url + path, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()


def deployment_rows(project) -> dict[tuple[str, str], tuple]:
    """Every deployment of the project, as its fields."""
    from controlplane.deployments.models import Deployment

    return {(d.workflow.name, d.environment.name): (d.version_id, d.is_paused, d.deployed_at, d.deployed_by_id,
                                                    d.deployed_by_label, d.updated_at)
            for d in Deployment.objects.filter(workflow__project=project).select_related("workflow", "environment")}


def run_cli(cli, capsys, *args, role):  # noqa: F811
    capsys.readouterr()
    code = cli(*args, role=role)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_gitops_diff_lists_exactly_the_three_drifts_and_sync_fixes_what_it_may_leaving_production_alone(
        tmp_path, live_server, tenant, tokens, cli, capsys):  # noqa: F811
    from controlplane.deployments.models import Deployment
    from controlplane.gitops.models import RepositoryLink
    from controlplane.gitops.services import repository_unlink

    # Only this repository is linked (build_tenant's placeholder link goes).
    repository_unlink(actor=tenant.admin, link=tenant.extra["repository_link"])
    repo = Repository(tmp_path)
    first = repo.commit("Three workflows", {f"{name}/flowyard.json": config(name) for name in WORKFLOWS})
    admin = Api(live_server.url, tokens[Role.ADMIN])
    link = admin.post("/gitops/repositories/", {
        "project": str(tenant.project.pk), "forge": "gitlab", "repository_path": "data/pipelines",
        "clone_url": repo.bare_path.as_uri(), "workflows": [{"name": name, "path": name} for name in WORKFLOWS]})

    # This project's CI builds the head: each build is deployed to test.
    ci = Api(live_server.url, tenant.ci_token_value)
    built = {}
    for name in WORKFLOWS:
        answer = ci.post("/registrations/", registration_body(tenant, name=name, seed=f"{first}-{name}") | {
            "event": "default_branch", "git_branch": "main", "git_commit_sha": first, "config": config(name)})
        assert answer["deployment"]["environment_name"] == "test", answer
        built[name] = answer["version"]["id"]

    # load reaches production through an approved promotion (four eyes: requested by a developer, approved by an
    # approver).
    code, out, err = run_cli(cli, capsys, "promotions", "request", f"{PROJECT}/load", "--json", role=Role.DEVELOPER)
    assert code == 0, err
    promotion = json.loads(out)["id"]
    code, out, err = run_cli(cli, capsys, "promotions", "approve", promotion, role=Role.APPROVER)
    assert code == 0, err
    production = Deployment.objects.get(workflow__project=tenant.project, workflow__name="load",
                                        environment__name="production")
    assert str(production.version_id) == built["load"]

    code, out, err = run_cli(cli, capsys, "gitops", "diff", PROJECT, "--exit-code", role=Role.VIEWER)
    assert (code, out.splitlines()) == (0, [f"# gitlab:data/pipelines (main at {first[:8]})", "no drift"]), err

    # 1. A developer deploys a build of their own to test through the API.
    developer = Api(live_server.url, tokens[Role.DEVELOPER])
    score = Deployment.objects.get(workflow__project=tenant.project, workflow__name="score", environment__name="test")
    hotfix = developer.post("/versions/", {
        "workflow": str(score.workflow_id), "image_ref": "127.0.0.1:5000/alpha/score:hotfix",
        "image_digest": digest("score-hotfix"), "config": config("score", memory=4096)})
    developer.patch(f"/deployments/{score.pk}/", {"version": hotfix["id"]})
    # 2. load's schedule changes in Git; 3. cleanup is deleted from Git.
    repo.commit("Load at three", {"load/flowyard.json": config("load", schedule="cron(0 15 * * ? *)")})
    head = repo.commit("Cleanup is no more", {"cleanup/flowyard.json": None})
    before = deployment_rows(tenant.project)

    code, out, err = run_cli(cli, capsys, "gitops", "diff", PROJECT, role=Role.VIEWER)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"# gitlab:data/pipelines (main at {head[:8]})"
    assert [line for line in lines if line.startswith(("---", "+++"))] == [
        "--- deployed/test/load", f"+++ git/{head[:8]}/load",
        "--- deployed/test/score", f"+++ git/{head[:8]}/score",
        "--- deployed/test/cleanup", f"+++ git/{head[:8]}/cleanup"]
    hunks = [line.split(":")[0] for line in lines if line.startswith("@@")]
    assert hunks == ["@@ not_built", "@@ changed_outside_git", "@@ removed_from_git"], "exactly those three"
    for expected in ("-schedule: cron(0 14 * * ? *)", "+schedule: cron(0 15 * * ? *)",
                     f"-image_digest: {digest('score-hotfix')}", "-memory: 4096", "+memory: 1024",
                     "+flowyard.json: (removed)", "-is_paused: false", "+is_paused: true"):
        assert expected in lines, (expected, out)
    assert run_cli(cli, capsys, "gitops", "diff", PROJECT, "--exit-code", role=Role.VIEWER)[0] == 1
    assert deployment_rows(tenant.project) == before, "a diff changes nothing"

    code, out, err = run_cli(cli, capsys, "gitops", "sync", PROJECT, role=Role.DEVELOPER)
    assert code == 3 and "needs role admin" in err, (out, err)
    assert deployment_rows(tenant.project) == before

    code, out, err = run_cli(cli, capsys, "gitops", "sync", PROJECT, role=Role.ADMIN)
    assert code == 0, err
    assert "applied: paused cleanup in test: removed from Git" in out and "until an admin confirms" in out
    assert f"of score to test, replacing {digest('score-hotfix')[:19]}" in out
    assert "left: not_built load in test: CI builds and deploys it" in out
    after = deployment_rows(tenant.project)
    cleanup = Deployment.objects.get(workflow__project=tenant.project, workflow__name="cleanup",
                                     environment__name="test")
    assert cleanup.is_paused and str(cleanup.version_id) == built["cleanup"], "paused, not deleted"
    score.refresh_from_db()
    assert str(score.version_id) == built["score"] and score.deployed_by_label.startswith("gitops:gitlab:data/pipelines")
    assert after[("load", "test")] == before[("load", "test")], "nothing built from the new config yet"
    assert after[("load", "production")] == before[("load", "production")], "production untouched"
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("score", "test"), ("cleanup", "test")}

    code, out, err = run_cli(cli, capsys, "gitops", "diff", PROJECT, "--json", role=Role.VIEWER)
    assert [(d["kind"], d["workflow"]) for d in json.loads(out)[0]["drift"]] == [("not_built", "load")]

    # A repository that cannot be fetched: its link is in error with git's message; nothing else changes.
    missing = tmp_path / "forge" / "moved.git"
    broken = admin.post("/gitops/repositories/", {
        "project": str(tenant.project.pk), "forge": "gitlab", "repository_path": "data/moved",
        "clone_url": missing.as_uri(), "workflows": [{"name": "load", "path": "load"}]})
    settled = deployment_rows(tenant.project)
    code, out, err = run_cli(cli, capsys, "gitops", "sync", PROJECT, role=Role.ADMIN)
    assert code == 3, (out, err)
    assert f"error: fatal: '{missing}' does not appear to be a git repository" in out
    assert "nothing was changed" in out
    error = RepositoryLink.objects.get(pk=broken["id"]).sync_error
    assert error.startswith(f"fatal: '{missing}' does not appear to be a git repository"), error
    assert RepositoryLink.objects.get(pk=link["id"]).sync_error == ""
    assert deployment_rows(tenant.project) == settled
    assert Deployment.objects.get(pk=production.pk).version_id == production.version_id
