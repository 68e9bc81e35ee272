"""`flowyard runs list/show/logs/cancel` against a live control plane (pytest-django's live_server)."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from flowyard_builder import api_client, follow
from flowyard_builder.cli import main
from flowyard_spec.states import Role
from flowyard_testkit.cli import Recorder, wait_until
from flowyard_testkit.live import Runner, cli, log, now, run_event, tenant, tokens  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = 30.0


def clock(at: datetime | str) -> str:
    """HH:MM:SS in this machine's timezone, as the CLI prints it."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone().strftime("%H:%M:%S")


def make_run(tenant, deployment=None, state: str = "QUEUED", reason: str = "", minutes: float | None = None, **params):
    """Trigger a run through the service, then put it in `state` (setup only, before the CLI runs)."""
    from controlplane.runs import services
    from controlplane.runs.models import Run

    run = services.run_trigger(actor=tenant.users[Role.DEVELOPER], deployment=deployment or tenant.test_deployment,
                               parameters=params)
    changes = {"state": state, "reason": reason}
    if minutes is not None:
        started = datetime.now(timezone.utc) - timedelta(minutes=minutes)
        changes |= {"started_at": started, "ended_at": started + timedelta(minutes=minutes)}
    Run.objects.filter(pk=run.pk).update(**changes)
    run.refresh_from_db()
    return run


# -- list -----------------------------------------------------------------------------------------------------

def test_list_shows_the_runs_newest_first_as_a_table(tenant, cli, capsys):
    from flowyard_testkit.tenants import build_tenant

    build_tenant("bravo")  # another team's runs are never listed
    failed = make_run(tenant, state="FAILED", reason="oom_killed", minutes=3.5)
    production = make_run(tenant, deployment=tenant.production_deployment, state="SUCCEEDED", minutes=0.2)

    assert cli("runs", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "WORKFLOW", "ENV", "STATE", "REASON", "CREATED", "DURATION"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [str(production.pk), str(failed.pk), str(tenant.run.pk)]
    assert rows[0][1:5] == ["alpha-main/etl", "production", "SUCCEEDED", "-"] and rows[0][-1] == "12s"
    assert rows[1][1:5] == ["alpha-main/etl", "test", "FAILED", "oom_killed"] and rows[1][-2:] == ["3m", "30s"]
    assert rows[2][1:5] == ["alpha-main/etl", "test", "QUEUED", "-"] and rows[2][-1] == "-"
    created = failed.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert created in lines[2]


def test_list_filters_by_project_workflow_env_and_state_and_follows_pages(tenant, cli, capsys, monkeypatch):
    report_runs = [make_run(tenant, deployment=tenant.report_test_deployment) for _ in range(3)]
    failed = make_run(tenant, state="FAILED", reason="user_error", minutes=1)
    crashed = make_run(tenant, state="CRASHED", reason="heartbeat_lost", minutes=1)
    in_production = make_run(tenant, deployment=tenant.production_deployment, state="FAILED", reason="user_error", minutes=1)

    def listed(*args: str) -> list[str]:
        """The ids `runs list ARGS --json` prints."""
        assert cli("runs", "list", *args, "--json") == 0
        return [run["id"] for run in json.loads(capsys.readouterr().out)]

    assert listed("alpha-main/report") == [str(run.pk) for run in reversed(report_runs)]
    assert listed("alpha-main/etl", "--env", "test", "--state", "failed,CRASHED") == [str(crashed.pk), str(failed.pk)]
    assert listed("alpha-main", "--env", "test", "--state", "FAILED") == [str(failed.pk)]
    assert listed("alpha-main", "--state", "FAILED", "--state", "CRASHED", "--limit", "2") == [
        str(in_production.pk), str(crashed.pk)
    ]
    assert listed("alpha-empty") == []

    monkeypatch.setattr(api_client, "MAX_PAGE_SIZE", 2)  # five runs over three pages, following `next`
    assert listed("alpha-main", "--env", "test", "--limit", "5") == [
        str(crashed.pk), str(failed.pk), *(str(run.pk) for run in reversed(report_runs))
    ]


def test_list_filters_by_trigger_and_late(tenant, cli, capsys):
    from controlplane.runs.models import Run

    manual = make_run(tenant)
    scheduled = make_run(tenant, deployment=tenant.production_deployment)
    Run.objects.filter(pk=scheduled.pk).update(trigger="schedule", scheduled_for=scheduled.created_at,
                                               late_at=scheduled.created_at, late_reason="no worker")

    def listed(*args: str) -> list[str]:
        assert cli("runs", "list", "alpha-main", *args, "--json") == 0
        return [run["id"] for run in json.loads(capsys.readouterr().out)]

    assert listed("--trigger", "schedule") == [str(scheduled.pk)]
    assert listed("--late") == [str(scheduled.pk)]
    assert str(manual.pk) in listed("--trigger", "manual")


def test_list_refuses_unknown_states_and_names(tenant, cli, capsys):
    assert cli("runs", "list", "--state", "EXPLODED") == 1
    assert "unknown state EXPLODED" in capsys.readouterr().err
    assert cli("runs", "list", "alpha-main/nope") == 1
    assert "workflow 'nope' not found in project 'alpha-main'" in capsys.readouterr().err
    assert cli("runs", "list", "bravo-main") == 1
    assert "project 'bravo-main' not found" in capsys.readouterr().err
    assert cli("runs", "list", "a/b/c") == 1
    assert "is not PROJECT or PROJECT/WORKFLOW" in capsys.readouterr().err


# -- show -----------------------------------------------------------------------------------------------------

def test_show_prints_the_run_and_its_tasks(tenant, cli, capsys, live_server):
    run = tenant.run
    runner = Runner(live_server.url, run)
    runner.send(run_event("RUNNING"),
                {"type": "task", "task_key": "load-0", "name": "load", "state": "FAILED", "at": now(),
                 "error": "Traceback (most recent call last):\n  ...\nValueError: no rows for 2026-02-01"},
                run_event("FAILED", reason="user_error", message="load-0 failed"))

    assert cli("runs", "show", str(run.pk), role=Role.VIEWER) == 0
    out = capsys.readouterr().out
    assert f"run          {run.pk}" in out
    assert "workflow     alpha-main/etl" in out and "environment  test" in out
    assert "state        FAILED (user_error)" in out and "message      load-0 failed" in out
    assert 'parameters   {"day": "2026-02-01", "limit": 10}' in out
    task_lines = out.split("\n\n")[1].splitlines()
    assert task_lines[0].split() == ["TASK", "NAME", "STATE", "ATTEMPT", "STARTED", "DURATION", "ERROR"]
    assert task_lines[1].split()[:3] == ["extract-0", "extract", "SUCCEEDED"]
    assert task_lines[2].split()[:3] == ["load-0", "load", "FAILED"]
    assert task_lines[2].endswith("ValueError: no rows for 2026-02-01")

    assert cli("runs", "show", str(run.pk), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == str(run.pk) and shown["state"] == "FAILED"
    assert [task["task_key"] for task in shown["tasks"]] == ["extract-0", "load-0"]


def test_show_of_an_invisible_or_malformed_run(tenant, cli, capsys):
    from flowyard_testkit.tenants import build_tenant

    other = build_tenant("bravo")
    assert cli("runs", "show", str(other.run.pk)) == 3
    assert "HTTP 404" in capsys.readouterr().err
    assert cli("runs", "show", str(uuid.uuid4())) == 3
    assert cli("runs", "show", "not-a-run") == 1
    assert "'not-a-run' is not a run id" in capsys.readouterr().err


# -- logs -----------------------------------------------------------------------------------------------------

def test_logs_prints_time_task_and_message_and_sends_stderr_lines_to_stderr(tenant, cli, capsys, live_server):
    Runner(live_server.url, tenant.run).send(
        log(4, "extracting 2026-02-01", task_key="extract-0", stream="sdk"),
        log(5, "warning: 3 rows skipped", task_key="extract-0", stream="stderr"),
    )
    stamp = clock(tenant.run.created_at)

    assert cli("runs", "logs", str(tenant.run.pk), role=Role.VIEWER) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[:3] == [f"{stamp} [stdout] alpha line {seq}" for seq in (1, 2, 3)]
    assert len(out) == 4 and out[3].endswith(" [extract-0] extracting 2026-02-01")
    assert captured.err.splitlines()[0].endswith(" [extract-0] warning: 3 rows skipped")

    assert cli("runs", "logs", str(tenant.run.pk), "--after", "2") == 0
    assert capsys.readouterr().out.splitlines() == [f"{stamp} [stdout] alpha line 3", out[3]]


def test_logs_follow_prints_lines_as_they_arrive_once_each_and_stops_when_the_run_ends(
    tenant, cli, live_server, monkeypatch
):
    monkeypatch.setattr(follow, "LOG_PAGE_SIZE", 2)  # a backlog takes several pages: none is skipped
    out, err = Recorder(), Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    runner = Runner(live_server.url, tenant.run)
    outcome: dict = {}
    follower = threading.Thread(
        target=lambda: outcome.setdefault("code", cli("runs", "logs", str(tenant.run.pk), "--follow",
                                                       "--poll-interval", "0.05")),
        daemon=True,
    )
    follower.start()
    try:
        wait_until(lambda: len(out.lines()) == 3, what="the stored lines")
        runner.send(run_event("RUNNING"), *(log(seq, f"batch one {seq}", "extract-0") for seq in range(4, 9)))
        wait_until(lambda: any("batch one 8" in line for line in out.lines()), what="the first batch followed")
        assert follower.is_alive()
        runner.send(log(9, "batch two 9", "load-0"), log(10, "oops", "load-0", stream="stderr"))
        wait_until(lambda: "oops" in err.text(), what="the stderr line followed")
        assert follower.is_alive()
        # the last lines and the end arrive in one batch: every line is printed before the command stops
        runner.send(log(11, "batch three 11", "load-0"), log(12, "done", ""), run_event("SUCCEEDED"))
        follower.join(DEADLINE)
    finally:
        if follower.is_alive():  # never leave the follower polling a run that cannot end
            runner.send(run_event("FAILED", reason="user_error"))
            follower.join(DEADLINE)
    assert outcome["code"] == 0
    messages = [line.split(" ", 2)[2] for line in out.lines()]
    assert messages == [
        "alpha line 1", "alpha line 2", "alpha line 3",
        *(f"batch one {seq}" for seq in range(4, 9)), "batch two 9", "batch three 11", "done",
    ]
    assert out.lines()[3].split(" ")[1] == "[extract-0]" and out.lines()[-1].split(" ")[1] == "[stdout]"
    assert [line.split(" ", 1)[1] for line in err.lines()[:1]] == ["[load-0] oops"]
    assert f"run {tenant.run.pk} SUCCEEDED" in err.text()


def test_logs_follow_exits_1_when_the_run_fails_and_rides_out_an_outage(tenant, tokens, live_server, monkeypatch):
    from urllib.parse import urlparse

    from flowyard_testkit.outage import SwitchableForwarder

    address = urlparse(live_server.url)
    forwarder = SwitchableForwarder(address.hostname, address.port)
    forwarder.up()
    monkeypatch.setenv("FLOWYARD_API_URL", forwarder.url)
    out, err = Recorder(), Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    runner = Runner(live_server.url, tenant.run)  # the runner reports directly, the CLI goes through the forwarder
    outcome: dict = {}
    follower = threading.Thread(
        target=lambda: outcome.setdefault("code", main(["runs", "logs", str(tenant.run.pk), "-f",
                                                        "--poll-interval", "0.05"])),
        daemon=True,
    )
    monkeypatch.setenv("FLOWYARD_TOKEN", tokens[Role.VIEWER])
    follower.start()
    try:
        wait_until(lambda: len(out.lines()) == 3, what="the stored lines")
        forwarder.down()
        wait_until(lambda: "unreachable" in err.text(), what="the follower noticing the outage")
        runner.send(run_event("RUNNING"), log(4, "during the outage", "t-0"))
        forwarder.up()
        wait_until(lambda: "during the outage" in out.text(), what="the line written during the outage")
        runner.send(log(5, "about to fail", "t-0"), run_event("FAILED", reason="user_error", message="t-0 failed"))
        follower.join(DEADLINE)
    finally:
        forwarder.down()
        if follower.is_alive():
            runner.send(run_event("FAILED", reason="user_error"))
            follower.join(DEADLINE)
    assert outcome["code"] == 1
    assert [line.split(" ", 2)[2] for line in out.lines()] == [
        "alpha line 1", "alpha line 2", "alpha line 3", "during the outage", "about to fail"
    ]
    assert "answers again" in err.text()
    assert f"run {tenant.run.pk} FAILED (user_error): t-0 failed" in err.text()


# -- cancel ---------------------------------------------------------------------------------------------------

def test_cancel_prints_the_new_state(tenant, cli, capsys, live_server):
    assert cli("runs", "cancel", str(tenant.run.pk)) == 0
    assert capsys.readouterr().out.strip() == f"run {tenant.run.pk} CANCELLED"

    running = make_run(tenant)
    Runner(live_server.url, running).send(run_event("RUNNING"))
    assert cli("runs", "cancel", str(running.pk), "--json") == 0
    assert json.loads(capsys.readouterr().out)["state"] == "CANCELLING"

    assert cli("runs", "cancel", str(tenant.run.pk)) == 3  # already ended: terminal states never change
    assert "already ended as CANCELLED" in capsys.readouterr().err


def test_a_viewer_cannot_cancel(tenant, cli, capsys):
    from controlplane.runs.models import Run

    assert cli("runs", "cancel", str(tenant.run.pk), role=Role.VIEWER) == 3
    err = capsys.readouterr().err
    assert "HTTP 403" in err and "needs role developer; yours: viewer" in err
    assert Run.objects.get(pk=tenant.run.pk).state == "QUEUED"


def test_connection_settings_are_required(tenant, capsys, monkeypatch):
    monkeypatch.delenv("FLOWYARD_API_URL", raising=False)
    monkeypatch.delenv("FLOWYARD_TOKEN", raising=False)
    assert main(["runs", "list"]) == 1
    assert "missing --api (or $FLOWYARD_API_URL) and --token (or $FLOWYARD_TOKEN)" in capsys.readouterr().err


def test_a_wrong_token_is_refused(live_server, capsys):
    assert main(["runs", "list", "--api", live_server.url, "--token", "fyp_not-a-token"]) == 3
    assert "HTTP 401" in capsys.readouterr().err
