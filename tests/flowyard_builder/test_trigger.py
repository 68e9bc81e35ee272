"""`flowyard trigger PROJECT/WORKFLOW --env ENV` against a live control plane (pytest-django's live_server)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading

import pytest

from flowyard_builder.cli import main
from flowyard_builder.commands.trigger import parse_parameters, parse_value
from flowyard_spec.states import Role
from flowyard_testkit.cli import Recorder, wait_until
from flowyard_testkit.live import Runner, log, run_event, tenant, tokens  # noqa: F401
from flowyard_testkit.live import cli as live_cli  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = 30.0
TRIGGERED = re.compile(r"triggered run ([0-9a-f-]{36}) of (\S+) in (\S+): (\w+)")


@pytest.fixture
def cli(live_cli):
    """`cli(*args, role=Role.DEVELOPER)`: `flowyard trigger ARGS` against the live server as a user with `role`."""
    return lambda *args, role=Role.DEVELOPER: live_cli("trigger", *args, role=role)


def run_count() -> int:
    """How many runs exist."""
    from controlplane.runs.models import Run

    return Run.objects.count()


# -- parameters -----------------------------------------------------------------------------------------------

def test_param_values_are_json_when_they_parse_and_strings_otherwise():
    assert parse_value("25") == 25 and parse_value("2.5") == 2.5 and parse_value("true") is True
    assert parse_value('{"a": [1, 2]}') == {"a": [1, 2]} and parse_value("null") is None
    assert parse_value("2026-01-01") == "2026-01-01" and parse_value('"25"') == "25" and parse_value("") == ""
    assert parse_parameters(["limit=7", "day=a=b"], '{"limit": 5, "x": 1}') == {"limit": 7, "x": 1, "day": "a=b"}
    for bad, problem in ((["limit"], "is not KEY=VALUE"), (["=1"], "is not KEY=VALUE")):
        with pytest.raises(ValueError, match=problem):
            parse_parameters(bad, None)
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_parameters([], "[1]")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_parameters([], "{")


# -- triggering -----------------------------------------------------------------------------------------------

def test_trigger_starts_a_run_with_typed_parameters(tenant, cli, capsys):
    from controlplane.runs.models import Run

    assert cli("alpha-main/etl", "--env", "test", "--param", "limit=25", "--param", "day=2026-03-01") == 0
    match = TRIGGERED.fullmatch(capsys.readouterr().out.strip())
    assert match and match.group(2, 3, 4) == ("alpha-main/etl", "test", "QUEUED")
    run = Run.objects.get(pk=match.group(1))
    assert run.deployment_id == tenant.test_deployment.pk and run.version_id == tenant.v2.pk
    assert run.parameters == {"day": "2026-03-01", "limit": 25}
    assert run.trigger == "api" and run.triggered_by == tenant.users[Role.DEVELOPER]


def test_trigger_json_with_params_json_in_production(tenant, cli, capsys):
    code = cli("alpha-main/etl", "--env", "production", "--params-json", '{"day": "2026-04-01", "limit": 5}',
               "--param", "limit=7", "--json")
    assert code == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "QUEUED" and run["environment_name"] == "production"
    assert run["deployment"] == str(tenant.production_deployment.pk) and run["version"] == str(tenant.v1.pk)
    assert run["parameters"] == {"day": "2026-04-01", "limit": 7}


def test_an_undeclared_parameter_prints_the_field_error_and_exits_1(tenant, cli, capsys):
    before = run_count()
    assert cli("alpha-main/etl", "--env", "test", "--param", "colour=blue") == 1
    err = capsys.readouterr().err
    assert "flowyard trigger: HTTP 400" in err
    assert "  parameters: Unknown parameter(s) colour; this workflow declares: day, limit." in err
    assert run_count() == before


def test_a_viewer_is_refused_with_the_reason_and_exit_3(tenant, cli, capsys):
    before = run_count()
    assert cli("alpha-main/etl", "--env", "test", role=Role.VIEWER) == 3
    err = capsys.readouterr().err
    assert "flowyard trigger: HTTP 403:" in err and "needs role developer; yours: viewer" in err
    assert run_count() == before


UNRESOLVABLE = [
    ("alpha-main/nope", "test", "workflow 'nope' not found in project 'alpha-main'"),
    ("nowhere/etl", "test", "project 'nowhere' not found"),
    ("bravo-main/etl", "test", "project 'bravo-main' not found"),  # another team's project is invisible
    ("alpha-main/etl", "sandbox", "etl is not deployed to sandbox; it is deployed to: production, test"),
    ("alpha-main/ingest", "test", "ingest is not deployed to test; it is not deployed anywhere yet"),
    ("alpha-main", "test", "'alpha-main' is not PROJECT/WORKFLOW"),
]


def test_what_cannot_be_resolved_is_named_and_exits_1(tenant, cli, capsys):
    from flowyard_testkit.tenants import build_tenant

    build_tenant("bravo")
    before = run_count()
    for target, env, message in UNRESOLVABLE:
        assert cli(target, "--env", env) == 1, target
        assert message in capsys.readouterr().err
    assert run_count() == before


def test_an_unreachable_control_plane_or_a_bad_token_exits_3(tenant, capsys, live_server):
    assert main(["trigger", "alpha-main/etl", "--env", "test", "--api", "http://127.0.0.1:9", "--token", "t"]) == 3
    assert "unreachable" in capsys.readouterr().err
    assert main(["trigger", "alpha-main/etl", "--env", "test", "--api", live_server.url, "--token", "fyp_x"]) == 3
    assert "HTTP 401" in capsys.readouterr().err


# -- following ------------------------------------------------------------------------------------------------

def test_trigger_follow_streams_the_log_and_exits_0_when_the_run_succeeds(tenant, cli, live_server, monkeypatch):
    out, err = Recorder(), Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    outcome: dict = {}
    follower = threading.Thread(
        target=lambda: outcome.setdefault("code", cli("alpha-main/etl", "--env", "test", "--param", "limit=3",
                                                       "--follow", "--poll-interval", "0.05")),
        daemon=True,
    )
    follower.start()
    runner = None
    try:
        run_id = wait_until(lambda: (m := TRIGGERED.search(out.text())) and m.group(1), what="the triggered run")
        runner = Runner(live_server.url, run_id)
        runner.send(run_event("RUNNING"), log(1, "flow etl started", stream="sdk"), log(2, "extracting", "extract-0"))
        wait_until(lambda: "extracting" in out.text(), what="the first lines followed")
        assert follower.is_alive() and "flow etl started" in out.text()
        runner.send(log(3, "loaded 3 rows", "load-0"), log(4, "flow etl succeeded", stream="sdk"),
                    run_event("SUCCEEDED"))
        follower.join(DEADLINE)
    finally:
        if follower.is_alive() and runner is not None:
            runner.send(run_event("FAILED", reason="user_error"))
            follower.join(DEADLINE)
    assert outcome["code"] == 0
    lines = out.text().splitlines()
    assert TRIGGERED.fullmatch(lines[0])
    assert [line.split(" ", 1)[1] for line in lines[1:]] == [
        "[sdk] flow etl started", "[extract-0] extracting", "[load-0] loaded 3 rows", "[sdk] flow etl succeeded"
    ]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", lines[1].split(" ")[0])
    assert f"run {run_id} SUCCEEDED" in err.text()


def test_trigger_follow_json_prints_only_the_ended_run_on_stdout(tenant, cli, live_server, monkeypatch):
    out, err = Recorder(), Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    outcome: dict = {}
    follower = threading.Thread(
        target=lambda: outcome.setdefault("code", cli("alpha-main/report", "--env", "test", "--follow", "--json",
                                                       "--poll-interval", "0.05")),
        daemon=True,
    )
    follower.start()
    runner = None
    try:
        run_id = wait_until(lambda: (m := TRIGGERED.search(err.text())) and m.group(1), what="the triggered run")
        runner = Runner(live_server.url, run_id)
        runner.send(run_event("RUNNING"), log(1, "no data for today", "fetch-0"),
                    run_event("FAILED", reason="user_error", message="fetch-0 failed"))
        follower.join(DEADLINE)
    finally:
        if follower.is_alive() and runner is not None:
            runner.send(run_event("FAILED", reason="user_error"))
            follower.join(DEADLINE)
    assert outcome["code"] == 1
    run = json.loads(out.text())
    assert (run["id"], run["state"], run["reason"]) == (run_id, "FAILED", "user_error")
    assert "[fetch-0] no data for today" in err.text()
    assert f"run {run_id} FAILED (user_error): fetch-0 failed" in err.text()


def test_trigger_follow_as_a_real_process(tenant, tokens, live_server):
    """The installed CLI in its own process: the token comes from the environment, lines arrive as they happen."""
    env = {**os.environ, "FLOWYARD_API_URL": live_server.url, "FLOWYARD_TOKEN": tokens[Role.DEVELOPER],
           "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "flowyard_builder.cli", "trigger", "alpha-main/etl", "--env", "test",
               "--param", "day=2026-05-01", "--follow", "--poll-interval", "0.05"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout], daemon=True).start()
    runner = None
    try:
        first = lines.get(timeout=DEADLINE)
        match = TRIGGERED.fullmatch(first)
        assert match, first
        runner = Runner(live_server.url, match.group(1))
        runner.send(run_event("RUNNING"), log(1, "extracting 2026-05-01", "extract-0"))
        assert lines.get(timeout=DEADLINE).endswith(" [extract-0] extracting 2026-05-01")
        assert process.poll() is None  # still following
        runner.send(log(2, "Traceback: KeyError 'day'", "load-0", stream="stderr"),
                    run_event("FAILED", reason="user_error", message="load-0 failed"))
        assert process.wait(DEADLINE) == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    assert "[load-0] Traceback: KeyError 'day'" in stderr
    assert f"run {match.group(1)} FAILED (user_error): load-0 failed" in stderr
    assert tokens[Role.DEVELOPER] not in " ".join(command)
