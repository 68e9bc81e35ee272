"""`flowyard schedule show|pause|resume PROJECT/WORKFLOW --env ENV` against a live control plane."""

from __future__ import annotations

import json

import pytest

from flowyard_builder.cli import main
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant():
    """A team whose `nightly` workflow is deployed to production on a daily schedule."""
    from controlplane.deployments import services as deployments
    from controlplane.workflows import services as workflows
    from flowyard_testkit.registration import register_version
    from flowyard_testkit.tenants import build_tenant, digest

    tenant = build_tenant("cli-sched")
    workflow = workflows.workflow_create(actor=None, project=tenant.project, name="nightly")
    version = register_version(
        workflow=workflow, image_ref="127.0.0.1:5000/c/nightly:1", image_digest=digest("nightly"),
        config={"name": "nightly", "schedule-enabled": True, "schedule": "cron(15 3 * * ? *)", "timezone": "UTC"},
    )
    deployments.deployment_set(actor=None, workflow=workflow, environment=tenant.production_env, version=version)
    return tenant


@pytest.fixture
def cli(live_server, tenant, monkeypatch, capsys):
    """`cli(*args, role=...)`: (exit code, stdout, stderr) of main() with a personal token of that role."""
    from controlplane.tenancy.services import personal_token_create

    monkeypatch.setenv("FLOWYARD_API_URL", live_server.url)

    def call(*args: str, role: Role = Role.ADMIN) -> tuple[int, str, str]:
        monkeypatch.setenv("FLOWYARD_TOKEN", personal_token_create(actor=tenant.users[role], name=f"t-{role}")[1])
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_show_prints_whether_it_fires_and_the_next_five_ticks(cli):
    code, out, _ = cli("schedule", "show", "cli-sched-main/nightly", "--env", "production", role=Role.VIEWER)
    assert code == 0
    assert "cron(15 3 * * ? *) (UTC)" in out and "active, catch-up skip" in out
    ticks = [line.strip() for line in out.splitlines() if line.startswith("    ")]
    assert len(ticks) == 5 and all(tick.endswith("T03:15:00Z") for tick in ticks)


def test_pause_then_resume_round_trips_and_json_is_machine_readable(cli):
    code, out, _ = cli("schedule", "pause", "cli-sched-main/nightly", "--env", "production", "--json")
    assert code == 0 and json.loads(out)["is_paused"] is True
    code, out, _ = cli("schedule", "show", "cli-sched-main/nightly", "--env", "production")
    assert "not active: the schedule is paused" in out
    code, out, _ = cli("schedule", "resume", "cli-sched-main/nightly", "--env", "production", "--json")
    assert code == 0 and json.loads(out)["active"] is True


def test_a_developer_is_refused_pausing_production_with_the_role_named(cli):
    code, _, err = cli("schedule", "pause", "cli-sched-main/nightly", "--env", "production", role=Role.DEVELOPER)
    assert code == 3 and "needs role admin; yours: developer" in err


def test_a_workflow_not_deployed_there_is_named(cli):
    code, _, err = cli("schedule", "show", "cli-sched-main/nightly", "--env", "test")
    assert code != 0 and "nightly is not deployed to test; it is deployed to: production" in err
