"""Task caching across runs: the runner keeps results in the environment's result directory and their records at
the (live) control plane, so the next run of the same environment with the same inputs reuses them."""

from __future__ import annotations

import pytest

from flowyard_spec.states import Role
from flowyard_test_support import RunnerProcess, runner_env, write_workflow

pytestmark = pytest.mark.django_db(transaction=True)

WORKFLOW = """
    import pathlib
    from flowyard import flow, task

    @task(cache=True)
    def expensive(n: int) -> int:
        with open(pathlib.Path(__file__).parent / "calls", "a") as calls:
            calls.write(f"{n}\\n")
        return n * n

    @flow
    def squares(day: str):
        return [expensive(n) for n in (2, 3)]
"""


def run_once(tmp_path, live_server, run, results) -> RunnerProcess:
    """Run the flow as `run` (its own token) with `results` as the result directory; it must succeed."""
    from flowyard_testkit.tokens import run_token_issue

    env = runner_env({"FLOWYARD_API_URL": live_server.url, "FLOWYARD_RUN_ID": str(run.pk),
                      "FLOWYARD_RUN_TOKEN": run_token_issue(run=run), "FLOWYARD_RESULT_DIR": str(results),
                      "FLOWYARD_PARAMETERS": '{"day": "2026-12-04"}'})
    runner = RunnerProcess(tmp_path, env=env)
    assert runner.wait(60) == 0, runner.output
    return runner


def test_a_second_run_of_the_environment_takes_the_cached_results_and_another_environment_does_not(
        tmp_path, live_server):
    from controlplane.runs import services as runs
    from controlplane.runs.models import TaskCacheRecord, TaskRun
    from flowyard_testkit.tenants import build_tenant

    tenant = build_tenant("cache")
    developer = tenant.users[Role.DEVELOPER]
    write_workflow(tmp_path, WORKFLOW)
    results = tmp_path / "results"
    calls = tmp_path / "calls"

    first = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
    run_once(tmp_path, live_server, first, results)
    assert calls.read_text().split() == ["2", "3"]
    assert TaskCacheRecord.objects.filter(environment=tenant.test_env).count() == 2
    assert len(list(results.glob("*/*.pickle"))) == 2

    second = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
    run_once(tmp_path, live_server, second, results)
    assert calls.read_text().split() == ["2", "3"], "the second run computed nothing again"
    assert set(TaskRun.objects.filter(run=second).values_list("state", flat=True)) == {"CACHED"}

    elsewhere = runs.run_trigger(actor=developer, deployment=tenant.production_deployment,
                                 parameters={"day": "2026-12-04"})
    run_once(tmp_path, live_server, elsewhere, results)
    assert calls.read_text().split() == ["2", "3", "2", "3"], "production has its own cache"


MANY_CALLS = """
    from flowyard import flow, task

    @task(cache=True)
    def square(n: int) -> int:
        return n * n

    @flow
    def squares(day: str):
        return sum(square(n) for n in range(20))
"""


def test_a_second_run_reads_the_tasks_index_once_instead_of_asking_for_each_call(tmp_path, live_server):
    from django.core.signals import request_started

    from controlplane.runs import services as runs
    from controlplane.runs.models import TaskRun
    from flowyard_testkit.tenants import build_tenant

    tenant = build_tenant("cacheindex")
    developer = tenant.users[Role.DEVELOPER]
    write_workflow(tmp_path, MANY_CALLS)
    results = tmp_path / "results"
    first = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
    run_once(tmp_path, live_server, first, results)

    asked: list[str] = []

    def count(environ, **_):
        if "/cache/" in environ["PATH_INFO"]:
            asked.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO'].rsplit('/cache/', 1)[1]}")

    second = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
    request_started.connect(count)
    try:
        run_once(tmp_path, live_server, second, results)
    finally:
        request_started.disconnect(count)
    assert asked == ["GET index/"], "one request for the task's index, none per call"
    states = list(TaskRun.objects.filter(run=second).values_list("state", flat=True))
    assert len(states) == 20 and set(states) == {"CACHED"}
