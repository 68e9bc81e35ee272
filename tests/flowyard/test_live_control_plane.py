"""The runner against the real control plane (a live Django server): every line stored once despite an outage."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from flowyard_spec.states import Role
from flowyard_test_support import RunnerProcess, runner_env, wait_until, write_workflow

pytestmark = pytest.mark.django_db(transaction=True)

WORKFLOW = """
    import pathlib, time
    from flowyard import flow, task, get_logger

    def wait_for(name):
        deadline = time.monotonic() + 60
        while not pathlib.Path(name).exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    @task(tags=["chatty"])
    def chatty(phase: str, count: int):
        for i in range(count):
            get_logger().info("%s %s", phase, i)

    @flow
    def outage_drill(day: str):
        chatty("before", 100)
        wait_for("outage-started")
        chatty("during", 300)
        wait_for("outage-over")
        chatty("after", 100)
"""


def test_the_runner_reports_to_the_live_control_plane_and_loses_no_line_while_it_is_unreachable(tmp_path, live_server):
    from django.db import OperationalError

    from controlplane.runs import services as runs
    from controlplane.runs.models import Run, RunLogLine, TaskRun
    from flowyard_testkit.tokens import run_token_issue
    from flowyard_testkit.outage import SwitchableForwarder
    from flowyard_testkit.tenants import build_tenant

    tenant = build_tenant("live")
    run = runs.run_trigger(actor=tenant.users[Role.DEVELOPER], deployment=tenant.test_deployment,
                           parameters={"day": "2026-02-01"})
    token = run_token_issue(run=run)
    address = urlparse(live_server.url)
    forwarder = SwitchableForwarder(address.hostname, address.port)
    forwarder.up()
    write_workflow(tmp_path, WORKFLOW)
    env = runner_env({"FLOWYARD_API_URL": forwarder.url, "FLOWYARD_RUN_ID": str(run.pk), "FLOWYARD_RUN_TOKEN": token,
                      "FLOWYARD_PARAMETERS": '{"day": "2026-02-01"}'})
    runner = RunnerProcess(tmp_path, env=env)
    try:
        def stored() -> int:
            try:
                return RunLogLine.objects.filter(run=run).count()
            except OperationalError:  # SQLite: the live server holds the table lock right now
                return 0

        wait_until(lambda: stored() >= 101, what="the first phase stored")  # the runner's own line, then 100
        forwarder.down()
        (tmp_path / "outage-started").touch()
        runner.wait_for_line(r"during 299")
        wait_until(lambda: any("cannot deliver events" in line for line in runner.stderr), what="a failed delivery")
        forwarder.up()
        (tmp_path / "outage-over").touch()
        assert runner.wait(60) == 0, runner.output
    finally:
        forwarder.down()
        if runner.process.poll() is None:
            runner.process.kill()

    assert any("events delivered again" in line for line in runner.stderr)
    lines = list(RunLogLine.objects.filter(run=run).order_by("seq").values_list("seq", "message", "task_key", "level"))
    expected = ([f"before {i}" for i in range(100)] + [f"during {i}" for i in range(300)]
                + [f"after {i}" for i in range(100)])
    assert [seq for seq, *_ in lines] == list(range(1, len(lines) + 1))
    assert [message for _, message, task_key, _ in lines if task_key] == expected
    assert all(level == "INFO" for _, _, task_key, level in lines if task_key)
    run.refresh_from_db()
    assert run.state == "SUCCEEDED" and run.started_at is not None and run.ended_at is not None
    tasks = {t.task_key: t for t in TaskRun.objects.filter(run=run)}
    assert sorted(tasks) == ["chatty-0", "chatty-1", "chatty-2"]
    assert all(t.state == "SUCCEEDED" and t.tags == ["chatty"] and t.ended_at for t in tasks.values())
