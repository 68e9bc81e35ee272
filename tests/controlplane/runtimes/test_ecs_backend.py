"""The ECS backend against a real moto server over HTTP on 127.0.0.1 (no boto3 mocking of any kind).

What moto does, and so what these tests can show: a Fargate task is RUNNING as soon as RunTask answers (there is
no PROVISIONING/PENDING phase); the fixture keeps it RUNNING until StopTask, which makes it STOPPED at once with
the given reason; left alone (moto's default progression) it walks to STOPPED one state per DescribeTasks. moto's
container always reports exit code 0 and no reason, and tasks carry no startedAt/stoppedAt. OOM, image pull
failures and real exit codes are covered on documented AWS payloads in test_ecs_backend_status.py.
"""

from __future__ import annotations

import datetime
import socket
import urllib.error
import urllib.request
import uuid

import pytest

from controlplane.runtimes.backends.base import (
    ENVIRONMENT_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    WORKFLOW_LABEL,
    LaunchFailed,
    LaunchSpec,
    TargetUnavailable,
    WorkloadState,
)
from controlplane.runtimes.backends.ecs import EcsBackend
from controlplane.runtimes.backends.ecs.taskdef import FINGERPRINT_TAG, family_for
from controlplane.runtimes.backends.registry import backend_for
from flowyard_testkit.aws import ecs_target, moto_aws  # noqa: F401  (fixtures)

IMAGE = "127.0.0.1:5000/flowyard-test/sample-etl@sha256:" + "ab" * 32


def make_spec(run_id: str | None = None, **changes) -> LaunchSpec:
    """A run's launch spec as the launcher builds it."""
    run_id = run_id or str(uuid.uuid4())
    values = {
        "run_id": run_id,
        "image": IMAGE,
        "environment": {"FLOWYARD_RUN_ID": run_id, "FLOWYARD_RUN_TOKEN": "fyr_secret-token", "API_KEY": "s3cr3t"},
        "cpu_units": 256,
        "memory_mib": 512,
        "labels": {RUN_LABEL: run_id, PROJECT_LABEL: "alpha", ENVIRONMENT_LABEL: "test", WORKFLOW_LABEL: "sample-etl"},
        "secret_names": frozenset({"API_KEY"}),
    }
    return LaunchSpec(**{**values, **changes})


@pytest.fixture
def backend(ecs_target) -> EcsBackend:
    """An ECS backend for the test's cluster on the moto server."""
    return EcsBackend(settings=ecs_target)


def describe(moto_aws, settings, arn: str) -> dict:
    """The task as DescribeTasks answers it, with its tags."""
    return moto_aws.client("ecs").describe_tasks(cluster=settings["cluster"], tasks=[arn], include=["TAGS"])["tasks"][0]


def run_tasks(moto_aws, settings, run_id: str) -> list[str]:
    """The ARNs of every task started by the run, running or stopped."""
    ecs, arns = moto_aws.client("ecs"), set()
    for desired in ("RUNNING", "STOPPED"):
        arns |= set(ecs.list_tasks(cluster=settings["cluster"], startedBy=run_id, desiredStatus=desired)["taskArns"])
    return sorted(arns)


def test_the_registry_builds_the_ecs_backend(ecs_target):
    assert isinstance(backend_for("ecs", ecs_target), EcsBackend)
    assert EcsBackend.kind == "ecs"


def test_launch_runs_a_fargate_task_started_by_the_run(backend, moto_aws, ecs_target):
    spec = make_spec()
    arn = backend.launch(spec)

    task = describe(moto_aws, ecs_target, arn)
    assert task["startedBy"] == spec.run_id and len(spec.run_id) == 36
    assert task["launchType"] == "FARGATE"
    tags = {tag["key"]: tag["value"] for tag in task["tags"]}
    assert tags == {**spec.labels, RUN_LABEL: spec.run_id}
    assert task["overrides"]["containerOverrides"] == [{"name": "workflow", "environment": [
        {"name": "FLOWYARD_RUN_ID", "value": spec.run_id}, {"name": "FLOWYARD_RUN_TOKEN", "value": "fyr_secret-token"},
        {"name": "API_KEY", "value": "s3cr3t"}]}]
    assert task["attachments"][0]["details"][0] == {"name": "subnetId", "value": ecs_target["subnets"][0]}

    definition = moto_aws.client("ecs").describe_task_definition(
        taskDefinition=task["taskDefinitionArn"], include=["TAGS"])
    td = definition["taskDefinition"]
    assert td["family"] == family_for(IMAGE, 256, 512)
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert td["executionRoleArn"] == ecs_target["execution_role_arn"]
    assert td["taskRoleArn"] == ecs_target["task_role_arn"]
    assert td["volumes"] == [{"name": "tmp"}]
    [container] = td["containerDefinitions"]
    assert container["name"] == "workflow" and container["image"] == IMAGE
    assert container["user"] == "10001" and container["readonlyRootFilesystem"] is True
    assert container["linuxParameters"] == {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}}
    assert container["stopTimeout"] == 30
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert container["environment"] == []  # per-run values are overrides, never in the task definition
    assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": ecs_target["log_group"], "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "run"}}
    assert {tag["key"] for tag in definition["tags"]} == {"org.flowyard.managed", FINGERPRINT_TAG}

    groups = moto_aws.client("logs").describe_log_groups(logGroupNamePrefix=ecs_target["log_group"])["logGroups"]
    assert [group["logGroupName"] for group in groups] == [ecs_target["log_group"]]


def test_command_is_a_run_override(backend, moto_aws, ecs_target):
    arn = backend.launch(make_spec(command=["python", "-m", "flowyard.runner", "--check"]))

    [override] = describe(moto_aws, ecs_target, arn)["overrides"]["containerOverrides"]
    assert override["command"] == ["python", "-m", "flowyard.runner", "--check"]


def test_launching_twice_returns_the_same_task(backend, moto_aws, ecs_target):
    spec, ecs = make_spec(), moto_aws.client("ecs")
    first = backend.launch(spec)
    revisions = ecs.list_task_definitions(familyPrefix=family_for(IMAGE, 256, 512))["taskDefinitionArns"]
    second = EcsBackend(settings=ecs_target).launch(spec)  # another worker, another backend instance

    assert second == first
    assert run_tasks(moto_aws, ecs_target, spec.run_id) == [first]
    assert ecs.list_task_definitions(familyPrefix=family_for(IMAGE, 256, 512))["taskDefinitionArns"] == revisions


def test_runs_share_a_task_definition_until_the_target_changes(backend, moto_aws, ecs_target):
    ecs = moto_aws.client("ecs")
    first = describe(moto_aws, ecs_target, backend.launch(make_spec()))["taskDefinitionArn"]
    second = describe(moto_aws, ecs_target, backend.launch(make_spec()))["taskDefinitionArn"]
    assert second == first

    changed = EcsBackend(settings={**ecs_target, "stop_grace_seconds": 90})
    third = describe(moto_aws, ecs_target, changed.launch(make_spec()))["taskDefinitionArn"]
    assert third != first and int(third.rsplit(":", 1)[1]) == int(first.rsplit(":", 1)[1]) + 1
    assert ecs.describe_task_definition(taskDefinition=third)["taskDefinition"]["containerDefinitions"][0][
        "stopTimeout"] == 90

    bigger = describe(moto_aws, ecs_target, backend.launch(make_spec(cpu_units=512, memory_mib=2048)))
    assert family_for(IMAGE, 512, 2048) in bigger["taskDefinitionArn"]


def test_inspect_reports_a_running_task(backend):
    spec = make_spec()
    arn = backend.launch(spec)

    status = backend.inspect(spec.run_id)
    assert status.state == WorkloadState.RUNNING
    assert status.ref == arn and status.exit_code is None and not status.oom_killed


def test_terminate_stops_the_task_with_the_reason(backend, moto_aws, ecs_target):
    spec = make_spec()
    arn = backend.launch(spec)

    backend.terminate(spec.run_id, grace_seconds=30)

    task = describe(moto_aws, ecs_target, arn)
    assert (task["desiredStatus"], task["lastStatus"]) == ("STOPPED", "STOPPED")
    assert task["stoppedReason"] == "Cancelled by Flowyard"
    status = backend.inspect(spec.run_id)
    assert status.state == WorkloadState.EXITED and status.ref == arn
    assert status.message == "Cancelled by Flowyard"
    assert status.exit_code == 0  # moto's container always says 0; AWS says 143 or 137 after a stop
    assert not status.oom_killed and not status.image_error

    backend.terminate(spec.run_id, grace_seconds=30)  # again: nothing to do
    backend.kill(spec.run_id)  # a stopped task is not stopped a second time: the reason stays
    assert describe(moto_aws, ecs_target, arn)["stoppedReason"] == "Cancelled by Flowyard"


def test_kill_stops_the_task(backend, moto_aws, ecs_target):
    spec = make_spec()
    arn = backend.launch(spec)

    backend.kill(spec.run_id)

    assert describe(moto_aws, ecs_target, arn)["stoppedReason"] == "Stopped by Flowyard"
    assert backend.inspect(spec.run_id).state == WorkloadState.EXITED


def test_a_task_that_ends_by_itself_is_reported_exited(backend, moto_aws):
    spec = make_spec()
    backend.launch(spec)
    moto_aws.task_progression(1)  # moto's own lifecycle: one state further per DescribeTasks

    seen = [backend.inspect(spec.run_id) for _ in range(5)]

    # DEACTIVATING, STOPPING, DEPROVISIONING: still alive; then STOPPED
    assert [status.state for status in seen] == [WorkloadState.RUNNING] * 3 + [WorkloadState.EXITED] * 2
    assert seen[-1].exit_code == 0 and seen[-1].message == ""


def test_an_unknown_run_is_missing(backend):
    run_id = str(uuid.uuid4())

    assert backend.inspect(run_id).state == WorkloadState.MISSING
    backend.terminate(run_id, grace_seconds=5)
    backend.kill(run_id)
    backend.remove(run_id)
    assert list(backend.logs(run_id)) == []
    assert run_id not in backend.list_workloads()


def test_remove_forgets_the_task_so_a_relaunch_starts_a_new_one(backend, moto_aws, ecs_target):
    spec = make_spec()
    first = backend.launch(spec)

    backend.kill(spec.run_id)
    backend.remove(spec.run_id)
    backend.remove(spec.run_id)  # again: nothing to do

    assert backend.inspect(spec.run_id).state == WorkloadState.MISSING
    assert spec.run_id not in backend.list_workloads()
    second = backend.launch(spec)
    assert second != first
    assert run_tasks(moto_aws, ecs_target, spec.run_id) == sorted([first, second])
    status = backend.inspect(spec.run_id)
    assert (status.state, status.ref) == (WorkloadState.RUNNING, second)


def test_remove_stops_a_task_still_running(backend, moto_aws, ecs_target):
    spec = make_spec()
    arn = backend.launch(spec)

    backend.remove(spec.run_id)

    task = describe(moto_aws, ecs_target, arn)
    assert task["lastStatus"] == "STOPPED" and task["stoppedReason"] == "Removed by Flowyard"


def _put_lines(moto_aws, settings, arn: str, lines: list[str], start_ms: int) -> None:
    """Write lines to the task's stream the way the awslogs driver does."""
    logs, stream = moto_aws.client("logs"), f"run/workflow/{arn.rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=settings["log_group"], logStreamName=stream)
    answer = logs.put_log_events(logGroupName=settings["log_group"], logStreamName=stream, logEvents=[
        {"timestamp": start_ms + index, "message": line} for index, line in enumerate(lines)])
    assert "rejectedLogEventsInfo" not in answer  # CloudWatch (and moto) drop events older than 14 days


def _now_ms() -> int:
    """A minute ago, in milliseconds: CloudWatch refuses events older than 14 days."""
    return int(datetime.datetime.now(datetime.UTC).timestamp() * 1000) - 60_000


def test_logs_are_read_back_in_order_across_pages(moto_aws, ecs_target):
    backend = EcsBackend(settings={**ecs_target, "log_page_size": 2})
    spec = make_spec()
    arn = backend.launch(spec)
    start_ms = _now_ms()
    lines = [f"line {number}" for number in range(1, 6)]
    _put_lines(moto_aws, ecs_target, arn, lines, start_ms)

    read = list(backend.logs(spec.run_id))

    assert [line.message for line in read] == lines
    assert {line.stream for line in read} == {"stdout"}
    assert read[0].at == datetime.datetime.fromtimestamp(start_ms / 1000, tz=datetime.UTC)
    assert [line.at for line in read] == sorted(line.at for line in read)


def test_logs_are_empty_before_the_container_writes(backend):
    spec = make_spec()
    backend.launch(spec)

    assert list(backend.logs(spec.run_id)) == []


def test_logs_of_a_stopped_task(backend, moto_aws, ecs_target):
    spec = make_spec()
    arn = backend.launch(spec)
    _put_lines(moto_aws, ecs_target, arn, ["started", "Traceback: boom"], _now_ms())
    backend.terminate(spec.run_id, grace_seconds=1)

    assert [line.message for line in backend.logs(spec.run_id)] == ["started", "Traceback: boom"]


def test_list_workloads_finds_the_runs_of_the_cluster(backend, moto_aws, ecs_target):
    running, stopped = make_spec(), make_spec()
    running_arn, stopped_arn = backend.launch(running), backend.launch(stopped)
    backend.terminate(stopped.run_id, grace_seconds=1)
    ecs = moto_aws.client("ecs")  # a task Flowyard did not launch, on the same cluster
    foreign = ecs.register_task_definition(family="someone-else", requiresCompatibilities=["FARGATE"],
                                           networkMode="awsvpc", cpu="256", memory="512", containerDefinitions=[
                                               {"name": "app", "image": "nginx", "memory": 512}])
    ecs.run_task(cluster=ecs_target["cluster"], taskDefinition=foreign["taskDefinition"]["taskDefinitionArn"],
                 launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                     "subnets": ecs_target["subnets"], "securityGroups": ecs_target["security_groups"]}})

    found = backend.list_workloads()

    assert set(found) == {running.run_id, stopped.run_id}
    assert (found[running.run_id].state, found[running.run_id].ref) == (WorkloadState.RUNNING, running_arn)
    assert (found[stopped.run_id].state, found[stopped.run_id].ref) == (WorkloadState.EXITED, stopped_arn)


# ------------------------------------------------------------------------------------------------ failures


def test_an_unknown_cluster_fails_the_launch(ecs_target):
    backend = EcsBackend(settings={**ecs_target, "cluster": "no-such-cluster"})

    with pytest.raises(LaunchFailed) as failure:
        backend.launch(make_spec())

    assert "ClusterNotFoundException" in str(failure.value) and not failure.value.image_error
    with pytest.raises(TargetUnavailable):  # the reconciler must not take a missing cluster for missing runs
        backend.inspect(str(uuid.uuid4()))


@pytest.mark.filterwarnings("ignore:Exception\\(InvalidSubnetIdError\\):UserWarning")  # moto's own note
def test_an_unknown_subnet_fails_the_launch(moto_aws, ecs_target):
    backend = EcsBackend(settings={**ecs_target, "subnets": ["subnet-0123456789abcdef0"]})
    spec = make_spec()

    with pytest.raises(LaunchFailed) as failure:
        backend.launch(spec)

    assert "subnet-0123456789abcdef0" in str(failure.value) and not failure.value.image_error
    assert run_tasks(moto_aws, ecs_target, spec.run_id) == []


def test_a_size_fargate_does_not_offer_fails_the_launch_before_any_call(moto_aws, ecs_target):
    backend = EcsBackend(settings=ecs_target)

    with pytest.raises(LaunchFailed, match="with cpu 256 memory must be one of 512, 1024, 2048"):
        backend.launch(make_spec(cpu_units=256, memory_mib=4096))
    with pytest.raises(LaunchFailed, match="no task size with cpu 300"):
        backend.launch(make_spec(cpu_units=300, memory_mib=512))

    families = moto_aws.client("ecs").list_task_definitions(familyPrefix=family_for(IMAGE, 256, 4096))
    assert families["taskDefinitionArns"] == []


def test_an_environment_larger_than_ecs_overrides_fails_the_launch(backend, moto_aws, ecs_target):
    spec = make_spec(environment={f"PARAM_{index}": "x" * 100 for index in range(100)})

    with pytest.raises(LaunchFailed, match="8192 characters") as failure:
        backend.launch(spec)

    assert "xxxx" not in str(failure.value)  # values never appear in the message
    assert run_tasks(moto_aws, ecs_target, spec.run_id) == []


def test_a_run_id_longer_than_started_by_fails_the_launch(backend):
    with pytest.raises(LaunchFailed, match="startedBy"):
        backend.launch(make_spec(run_id="r" * 37))


def test_incomplete_settings_fail_the_launch_and_make_the_target_unavailable():
    backend = EcsBackend(settings={"cluster": "c", "subnet": ["subnet-1"]})

    with pytest.raises(LaunchFailed) as failure:
        backend.launch(make_spec())
    assert str(failure.value) == ("ECS runtime target settings: unknown setting 'subnet'; 'region' is required; "
                                  "'subnets' is required.")
    with pytest.raises(TargetUnavailable):
        backend.inspect(str(uuid.uuid4()))


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_endpoint_that_does_not_answer_makes_the_target_unavailable(ecs_target):
    backend = EcsBackend(settings={**ecs_target, "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
                                   "max_attempts": 1, "connect_timeout": 1})
    spec = make_spec()

    for call in (lambda: backend.launch(spec), lambda: backend.inspect(spec.run_id),
                 lambda: backend.terminate(spec.run_id, grace_seconds=1), lambda: list(backend.logs(spec.run_id)),
                 backend.list_workloads):
        with pytest.raises(TargetUnavailable, match="Could not connect"):
            call()


def _transfer(url: str, payload: bytes | None = None) -> bytes:
    """GET (or PUT `payload` to) a signed URL the way the runner does, with urllib and no credentials."""
    request = urllib.request.Request(url, data=payload, method="GET" if payload is None else "PUT",
                                     headers={} if payload is None else {"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


def test_a_target_with_a_result_bucket_signs_urls_inside_the_environments_prefix(moto_aws, ecs_target):
    bucket = f"results-{uuid.uuid4().hex[:8]}"
    moto_aws.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    backend = EcsBackend(settings={**ecs_target, "result_bucket": bucket, "result_prefix": "cache"})

    upload = backend.result_url(scope="env-1", location="ab/ab12.pickle", upload=True)
    download = backend.result_url(scope="env-1", location="ab/ab12.pickle", upload=False)
    assert "X-Amz-Signature=" in upload and "X-Amz-Expires=900" in download  # SigV4, valid 15 minutes
    assert f"/{bucket}/cache/env-1/ab/ab12.pickle?" in download
    _transfer(upload, b"the result")

    listed = moto_aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [entry["Key"] for entry in listed] == ["cache/env-1/ab/ab12.pickle"]
    assert _transfer(download) == b"the result"
    with pytest.raises(urllib.error.HTTPError) as other_scope:
        _transfer(backend.result_url(scope="env-2", location="ab/ab12.pickle", upload=False))
    assert other_scope.value.code == 404, "another environment's URL never reaches this one's results"
    # (moto does not check signatures, so that an edited URL is refused is AWS's part and not shown here)


def test_without_a_result_bucket_nothing_is_signed_and_runs_are_told_no_store(backend, moto_aws, ecs_target):
    assert backend.result_url(scope="env-1", location="ab/ab12.pickle", upload=True) is None
    arn = backend.launch(make_spec(result_scope="env-1"))
    [override] = describe(moto_aws, ecs_target, arn)["overrides"]["containerOverrides"]
    assert "FLOWYARD_RESULT_STORE" not in {item["name"] for item in override["environment"]}


def test_runs_on_a_target_with_a_result_bucket_are_told_to_use_signed_urls(moto_aws, ecs_target):
    backend = EcsBackend(settings={**ecs_target, "result_bucket": "results"})
    arn = backend.launch(make_spec(result_scope="env-1"))
    [override] = describe(moto_aws, ecs_target, arn)["overrides"]["containerOverrides"]
    assert {"name": "FLOWYARD_RESULT_STORE", "value": "signed-urls"} in override["environment"]


def test_removing_an_environments_result_store_deletes_its_objects_and_no_others(moto_aws, ecs_target):
    bucket = f"results-{uuid.uuid4().hex[:8]}"
    s3 = moto_aws.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key in ("cache/env-1/ab/one.pickle", "cache/env-1/cd/two.pickle", "cache/env-10/ab/other.pickle"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"result")
    backend = EcsBackend(settings={**ecs_target, "result_bucket": bucket, "result_prefix": "cache"})

    backend.result_store_remove("env-1")
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["cache/env-10/ab/other.pickle"]
    backend.result_store_remove("env-1")  # nothing left to delete: no error
