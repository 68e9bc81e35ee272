"""`flowyard backfill` (start, status, cancel, follow) against a live control plane (pytest-django's live_server)."""

from __future__ import annotations

import json
import threading

import pytest

from flowyard_builder.cli import main
from flowyard_spec.states import Role
from flowyard_testkit.cli import Recorder, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

RANGE = ("--start", "2026-01-05", "--end", "2026-01-05T03:00Z")  # four hourly ticks: 00:00 to 03:00 UTC




@pytest.fixture
def tenant():
    """Team alpha: its etl workflow runs an hourly schedule (disabled) in test and production."""
    from flowyard_testkit.tenants import build_tenant

    return build_tenant("alpha")


@pytest.fixture
def cli(live_server, tenant, monkeypatch):
    """`cli(*args, role=Role.DEVELOPER)`: main() with the API URL and a personal token from the environment."""
    from controlplane.tenancy.services import personal_token_create

    tokens = {role: personal_token_create(actor=user, name=f"cli-{role.value}")[1] for role, user in tenant.users.items()}
    monkeypatch.setenv("FLOWYARD_API_URL", live_server.url)

    def call(*args: str, role: Role = Role.DEVELOPER) -> int:
        """Run the command as a user with `role`; returns its exit code."""
        monkeypatch.setenv("FLOWYARD_TOKEN", tokens[role])
        return main(list(args))

    return call


def backfill_runs(backfill_id: str):
    """The backfill's runs, in tick order."""
    from controlplane.runs.models import Run

    return list(Run.objects.filter(backfill_id=backfill_id).order_by("scheduled_for"))


def succeed(run) -> None:
    """The runner reports the run RUNNING, then SUCCEEDED."""
    from django.db import transaction

    from controlplane.runs import lifecycle
    from controlplane.runs.models import Run
    from flowyard_spec.states import RunState

    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        lifecycle.transition(run, RunState.RUNNING)
        lifecycle.transition(run, RunState.SUCCEEDED)
        run.save()


def test_backfill_prints_its_id_and_ticks_then_status_and_cancel(tenant, cli, capsys):
    assert cli("backfill", "alpha-main/etl", "--env", "test", *RANGE, "--max-active", "2", "--param", "limit=5") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("started backfill ") and " of alpha-main/etl in test: 4 ticks from 2026-01-05T00:00:00" in out[0]
    assert "at most 2 at a time (reprocess none)" in out[0]
    backfill_id = out[0].split()[2]
    assert out[1] == f"backfill {backfill_id}: RUNNING, 2/4 ticks handled (0 skipped), 0 succeeded, 0 failed, 2 running"
    runs = backfill_runs(backfill_id)
    assert [run.parameters["limit"] for run in runs] == [5, 5]

    succeed(runs[0])
    assert cli("backfill", "status", backfill_id, role=Role.VIEWER) == 0
    assert capsys.readouterr().out.strip() == (
        f"backfill {backfill_id}: RUNNING, 2/4 ticks handled (0 skipped), 1 succeeded, 0 failed, 1 running")

    assert cli("backfill", "cancel", backfill_id, role=Role.VIEWER) == 3
    assert "needs role developer" in capsys.readouterr().err
    assert cli("backfill", "cancel", backfill_id, "--json") == 0
    cancelled = json.loads(capsys.readouterr().out)
    assert (cancelled["state"], cancelled["progress"]["live_runs"]) == ("CANCELLED", 0)
    assert [run.state for run in backfill_runs(backfill_id)] == ["SUCCEEDED", "CANCELLED"]


def test_follow_prints_progress_until_every_tick_has_run(tenant, cli):
    import contextlib

    from controlplane.scheduling.backfills import dispatch_backfills

    recorder = Recorder()
    codes: list[int] = []

    def follow() -> None:
        with contextlib.redirect_stdout(recorder):
            codes.append(cli("backfill", "alpha-main/etl", "--env", "production", *RANGE, "--max-active", "2",
                             "--follow", "--poll-interval", "0.05", role=Role.ADMIN))

    thread = threading.Thread(target=follow)
    thread.start()
    started = wait_until(lambda: "started backfill" in recorder.text(), what="the backfill to start")
    backfill_id = recorder.text().split()[2]
    assert started
    while thread.is_alive():  # what the scheduler's periodic task and the runners do
        for run in backfill_runs(backfill_id):
            if run.state == "QUEUED":
                succeed(run)
        dispatch_backfills()
        thread.join(timeout=0.05)
    assert codes == [0]
    lines = recorder.text().splitlines()
    assert lines[-1] == f"backfill {backfill_id}: COMPLETED, 4/4 ticks handled (0 skipped), 4 succeeded, 0 failed, 0 running"
    assert len(backfill_runs(backfill_id)) == 4


def test_mistakes_are_named_and_exit_1(tenant, cli, capsys):
    assert cli("backfill", "alpha-main/etl", "--env", "test", "--start", "last week", "--end", "2026-01-05") == 1
    assert "--start 'last week' is not an ISO 8601 date" in capsys.readouterr().err
    assert cli("backfill", "alpha-main/etl", "--env", "test", "--start", "2026-01-05") == 1
    assert "--end is required" in capsys.readouterr().err
    assert cli("backfill", "status") == 1
    assert "needs a BACKFILL_ID" in capsys.readouterr().err
    assert cli("backfill", "alpha-main/etl", "--env", "test", "--start", "2026-01-05", "--end", "2999-01-01") == 1
    err = capsys.readouterr().err
    assert "end: " in err and "is in the future" in err
    assert cli("backfill", "alpha-main/etl", "--env", "test", *RANGE, "--max-active", "99") == 1
    assert "max_active" in capsys.readouterr().err
    assert cli("backfill", "alpha-main/report", "--env", "production", *RANGE) == 1
    assert "report is not deployed to production" in capsys.readouterr().err
