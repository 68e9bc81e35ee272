"""The ECS backend's translations that moto cannot show, on DescribeTasks payloads shaped as AWS documents them.

moto's container always reports exit code 0 with no reason, and moto tasks have no PROVISIONING phase nor
start/stop times, so OOM kills, image pull failures, real exit codes and the pending states are checked here on
the dictionaries boto3 returns for AWS (no client, no server). Also: settings checks and Fargate task sizes.
"""

from __future__ import annotations

import datetime

import pytest

from controlplane.runtimes.backends.base import RUN_LABEL, WorkloadState
from controlplane.runtimes.backends.ecs import EcsSettings, SettingsError, fargate_size_error
from controlplane.runtimes.backends.ecs.status import is_removed, pick, run_id_of, task_status
from controlplane.runtimes.backends.ecs.taskdef import family_for, log_stream

ARN = "arn:aws:ecs:eu-west-1:123456789012:task/flowyard/0f3c2b8a9d7e4f6a8b1c2d3e4f5a6b7c"
CREATED = datetime.datetime(2026, 11, 23, 9, 0, 0, tzinfo=datetime.UTC)
STARTED = CREATED + datetime.timedelta(seconds=40)
STOPPED = STARTED + datetime.timedelta(minutes=3)


def task(last_status: str, **fields) -> dict:
    """A DescribeTasks task as boto3 returns it from AWS (one container, `workflow`)."""
    container = {"name": "workflow", "lastStatus": last_status, **fields.pop("container", {})}
    return {"taskArn": ARN, "lastStatus": last_status, "desiredStatus": "RUNNING", "createdAt": CREATED,
            "containers": [container], **fields}


@pytest.mark.parametrize("last_status", ["PROVISIONING", "PENDING", "ACTIVATING"])
def test_a_task_not_started_yet_is_pending(last_status):
    status = task_status(task(last_status))

    assert status.state == WorkloadState.PENDING and status.ref == ARN


@pytest.mark.parametrize("last_status", ["RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"])
def test_a_task_is_running_until_it_is_stopped(last_status):
    status = task_status(task(last_status, startedAt=STARTED, desiredStatus="STOPPED"))

    assert status.state == WorkloadState.RUNNING and status.started_at == STARTED and status.exit_code is None


def test_a_task_whose_container_exited_reports_the_exit_code_and_times():
    status = task_status(task("STOPPED", startedAt=STARTED, stoppedAt=STOPPED, stopCode="EssentialContainerExited",
                              stoppedReason="Essential container in task exited", container={"exitCode": 3}))

    assert status.state == WorkloadState.EXITED
    assert (status.exit_code, status.started_at, status.finished_at) == (3, STARTED, STOPPED)
    assert status.message == "Essential container in task exited"
    assert not status.oom_killed and not status.image_error


def test_ecs_out_of_memory_is_reported_as_oom():
    status = task_status(task("STOPPED", startedAt=STARTED, stoppedAt=STOPPED,
                              stoppedReason="Essential container in task exited", container={
                                  "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}))

    assert status.oom_killed and status.exit_code == 137
    assert status.message == ("Essential container in task exited; "
                              "OutOfMemoryError: Container killed due to memory usage")


def test_a_plain_kill_is_not_oom():
    status = task_status(task("STOPPED", stopCode="UserInitiated", stoppedReason="Cancelled by Flowyard",
                              container={"exitCode": 137}))

    assert status.exit_code == 137 and not status.oom_killed


def test_an_image_that_cannot_be_pulled_is_an_image_error():
    reason = ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
              "registry.example.com/team/etl@sha256:abc: not found")
    status = task_status(task("STOPPED", stopCode="TaskFailedToStart", stoppedReason=reason, stoppedAt=STOPPED))

    assert status.state == WorkloadState.EXITED and status.image_error
    assert status.exit_code is None and status.started_at is None and status.message == reason


def test_an_entrypoint_that_cannot_run_is_an_image_error_but_other_start_errors_are_not():
    no_exec = task_status(task("STOPPED", stopCode="TaskFailedToStart", stoppedReason=(
        'CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: '
        'exec: "flowyard-runner": executable file not found in $PATH')))
    other = task_status(task("STOPPED", stopCode="TaskFailedToStart",
                             stoppedReason="ResourceInitializationError: unable to pull secrets or registry auth"))

    assert no_exec.image_error and not other.image_error


def test_the_live_and_newest_task_stands_for_the_run():
    old = task("STOPPED", taskArn=ARN + "-old", createdAt=CREATED)
    live = task("RUNNING", taskArn=ARN + "-live", createdAt=CREATED - datetime.timedelta(minutes=1))
    newest = task("STOPPED", taskArn=ARN + "-new", createdAt=CREATED + datetime.timedelta(minutes=1))

    assert pick([old, live, newest])["taskArn"] == ARN + "-live"
    assert pick([old, newest])["taskArn"] == ARN + "-new"
    assert pick([]) is None


def test_tags_name_the_run_and_the_removed_tasks():
    tagged = task("STOPPED", tags=[{"key": RUN_LABEL, "value": "r1"}, {"key": "org.flowyard.removed", "value": "true"}])

    assert run_id_of(tagged) == "r1" and is_removed(tagged)
    assert run_id_of(task("RUNNING")) is None and not is_removed(task("RUNNING"))


def test_names_derived_from_the_image_and_the_task():
    assert family_for("img@sha256:1", 256, 512) == family_for("img@sha256:1", 256, 512)
    assert family_for("img@sha256:1", 256, 512) != family_for("img@sha256:1", 256, 1024)
    assert len(family_for("x" * 1000, 256, 512)) == len("flowyard-") + 64
    assert log_stream(ARN) == "run/workflow/0f3c2b8a9d7e4f6a8b1c2d3e4f5a6b7c"


@pytest.mark.parametrize(("cpu", "memory", "accepted"), [
    (256, 512, True), (256, 2048, True), (256, 3072, False), (512, 4096, True), (1024, 2048, True),
    (4096, 30720, True), (8192, 20480, True), (8192, 18432, False), (16384, 122880, True), (128, 512, False),
])
def test_fargate_task_sizes(cpu, memory, accepted):
    assert (fargate_size_error(cpu, memory) is None) is accepted


def test_settings_defaults_and_errors():
    parsed = EcsSettings.parse({"region": "eu-west-1", "cluster": "runs", "subnets": ["subnet-1", "subnet-2"]})
    assert parsed.subnets == ("subnet-1", "subnet-2") and parsed.security_groups == ()
    assert (parsed.assign_public_ip, parsed.log_group, parsed.platform_version) == ("DISABLED", "/flowyard/runs",
                                                                                    "LATEST")
    assert parsed.stop_grace_seconds == 30 and parsed.endpoint_url is None

    with pytest.raises(SettingsError) as failure:
        EcsSettings.parse({"region": "eu-west-1", "cluster": "runs", "subnets": "subnet-1",
                           "assign_public_ip": "yes", "stop_grace_seconds": 600})
    assert str(failure.value) == (
        "ECS runtime target settings: 'subnets' must be a list of IDs; 'assign_public_ip' must be ENABLED or "
        "DISABLED; 'stop_grace_seconds' must be between 1 and 120 (Fargate's limit).")


def test_result_store_settings_name_what_is_wrong():
    base = {"region": "eu-west-1", "cluster": "runs", "subnets": ["subnet-1"]}
    parsed = EcsSettings.parse(base)
    assert (parsed.result_bucket, parsed.result_prefix, parsed.result_url_seconds) == (None, "flowyard-results", 900)

    with pytest.raises(SettingsError) as failure:
        EcsSettings.parse({**base, "result_bucket": "results", "result_prefix": "/runs/", "result_url_seconds": 5})
    assert str(failure.value) == (
        "ECS runtime target settings: 'result_url_seconds' must be between 60 and 43200 (12 hours); 'result_prefix' "
        "must be a non-empty S3 key prefix without a leading or trailing '/'.")
