"""Task caching across runs: the runner keeps results in the environment's result directory and their records at
the (live) control plane, so the next run of the same environment with the same inputs reuses them."""

from __future__ import annotations

import pytest

from flowyard_spec.states import Role
from flowyard_test_support import RunnerProcess, runner_env, write_workflow
from flowyard_testkit.aws import ecs_target, moto_aws  # noqa: F401  (fixtures)

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


def run_once(tmp_path, live_server, run, results=None) -> RunnerProcess:
    """Run the flow as `run` (its own token) with `results` as the result directory (None: the signed URLs of the
    run's target); it must succeed."""
    from flowyard_testkit.tokens import run_token_issue

    store = {"FLOWYARD_RESULT_DIR": str(results)} if results else {"FLOWYARD_RESULT_STORE": "signed-urls"}
    env = runner_env({"FLOWYARD_API_URL": live_server.url, "FLOWYARD_RUN_ID": str(run.pk),
                      "FLOWYARD_RUN_TOKEN": run_token_issue(run=run), **store,
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


def test_a_run_records_its_results_in_one_batch_and_the_next_reads_the_tasks_index_once(tmp_path, live_server):
    from django.core.signals import request_started

    from controlplane.runs import services as runs
    from controlplane.runs.models import TaskCacheRecord, TaskRun
    from flowyard_testkit.tenants import build_tenant

    tenant = build_tenant("cacheindex")
    developer = tenant.users[Role.DEVELOPER]
    write_workflow(tmp_path, MANY_CALLS)
    results = tmp_path / "results"
    asked: list[str] = []

    def count(environ, **_):
        if "/cache/" in environ["PATH_INFO"]:
            asked.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO'].rsplit('/cache/', 1)[1]}")

    request_started.connect(count)
    try:
        first = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
        run_once(tmp_path, live_server, first, results)
        assert asked == ["GET index/", "POST batch/"], "one index read, and the 20 records sent together"
        assert TaskCacheRecord.objects.filter(environment=tenant.test_env, run=first).count() == 20
        asked.clear()

        second = runs.run_trigger(actor=developer, deployment=tenant.test_deployment, parameters={"day": "2026-12-04"})
        run_once(tmp_path, live_server, second, results)
    finally:
        request_started.disconnect(count)
    assert asked == ["GET index/"], "one request for the task's index, none per call"
    states = list(TaskRun.objects.filter(run=second).values_list("state", flat=True))
    assert len(states) == 20 and set(states) == {"CACHED"}


def test_on_a_target_with_a_result_bucket_results_go_to_s3_through_urls_the_control_plane_signs(
        tmp_path, live_server, moto_aws, ecs_target):
    from controlplane.runs import services as runs
    from controlplane.runs.models import Run, TaskCacheRecord, TaskRun
    from controlplane.runtimes.models import RuntimeTarget
    from flowyard_testkit.tenants import build_tenant

    bucket = "flowyard-results-test"
    s3 = moto_aws.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto_aws.region})
    target = RuntimeTarget.objects.create(name="ecs-results", kind="ecs",
                                          settings={**ecs_target, "result_bucket": bucket})
    tenant = build_tenant("s3cache")
    developer = tenant.users[Role.DEVELOPER]
    write_workflow(tmp_path, WORKFLOW)
    calls = tmp_path / "calls"

    def launched_on_ecs(deployment) -> Run:
        run = runs.run_trigger(actor=developer, deployment=deployment, parameters={"day": "2026-12-04"})
        Run.objects.filter(pk=run.pk).update(runtime_target=target)  # as the launcher records it
        return run

    run_once(tmp_path, live_server, launched_on_ecs(tenant.test_deployment))
    assert calls.read_text().split() == ["2", "3"]
    keys = TaskCacheRecord.objects.filter(environment=tenant.test_env).values_list("key", flat=True)
    stored = {entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert stored == {f"flowyard-results/{tenant.test_env.pk}/{key[:2]}/{key}.pickle" for key in keys} and len(keys) == 2

    second = launched_on_ecs(tenant.test_deployment)
    run_once(tmp_path, live_server, second)
    assert calls.read_text().split() == ["2", "3"], "the second run read the results from S3"
    assert set(TaskRun.objects.filter(run=second).values_list("state", flat=True)) == {"CACHED"}

    run_once(tmp_path, live_server, launched_on_ecs(tenant.production_deployment))
    assert calls.read_text().split() == ["2", "3", "2", "3"], "production has its own cache"
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 4
