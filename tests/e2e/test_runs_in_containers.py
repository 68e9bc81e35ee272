"""Runs in containers under faults: a real Celery worker over Redis, the Docker backend, a live API.

Each test ends in the right terminal state within its bound; the worker's reconciler runs every second.
The tests run on the machine's engine, except the one that restarts an engine: it restarts its own
(flowyard_testkit.docker_engines), never the machine's dockerd.
"""

from __future__ import annotations

import json

import pytest

from flowyard_testkit.docker_engines import own_docker_engine  # noqa: F401
from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import RUN_LABEL, behaviours_image, platform, running_platform, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_triggered_run_succeeds_with_its_tasks_and_log_lines(platform):
    run_id = platform.trigger(platform.deploy(), mode="ok")
    run = platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")
    assert run["state"] == "SUCCEEDED", run
    assert run["started_at"] and run["ended_at"]
    tasks = platform.api.get(f"/api/v1/runs/{run_id}/tasks/").json()
    assert [(task["name"], task["state"]) for task in tasks] == [("work", "SUCCEEDED")]
    assert "first line of user code" in platform.logs(run_id)
    wait_until(lambda: not platform.containers(run_id), timeout=30, what="the finished run's container removed")


def test_a_cached_task_result_is_taken_by_the_next_run_of_the_environment_in_its_container(platform):
    deployment = platform.deploy()
    first = platform.trigger(deployment, mode="cached", seconds=7)
    platform.wait_for(first, "SUCCEEDED")
    second = platform.trigger(deployment, mode="cached", seconds=7)
    platform.wait_for(second, "SUCCEEDED")
    assert "computed 7.0" in platform.logs(first)
    assert not [line for line in platform.logs(second) if line.startswith("computed")]
    tasks = platform.api.get(f"/api/v1/runs/{second}/tasks/").json()
    assert [(task["name"], task["state"]) for task in tasks] == [("remembered", "CACHED")]


def test_a_running_workflow_container_is_locked_down(platform):
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=20)
    platform.wait_for(run_id, "RUNNING")
    (container,) = platform.containers(run_id)
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert config["User"].split(":")[0] == "10001"
    assert host["ReadonlyRootfs"] is True
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Memory"] == 256 * 1024 * 1024 and host["NanoCpus"] == 250_000_000 and host["PidsLimit"] > 0
    # The one mount: the environment's result-store volume (cached task results), never a host path.
    mounts = [(mount["Type"], mount["Destination"], mount.get("Name")) for mount in container.attrs["Mounts"]]
    assert mounts == [("volume", "/var/lib/flowyard/results", f"flowyard-results-{platform.tenant.test_env.pk}")]
    assert not host.get("Binds")
    assert "docker.sock" not in json.dumps(container.attrs)
    assert "ALL" in host["CapDrop"] and not host.get("CapAdd"), (host["CapDrop"], host.get("CapAdd"))
    assert host["Privileged"] is False
    assert host.get("PidMode") != "host" and host.get("IpcMode") != "host", (host.get("PidMode"), host.get("IpcMode"))
    assert "/tmp" in (host.get("Tmpfs") or {}), host.get("Tmpfs")
    # Inside, as the container's own user (no `user=`): uid 10001, /tmp writable, / read-only, PID 1 not root.
    probe = container.exec_run(["sh", "-c", "id -u; grep '^Uid:' /proc/1/status; touch /tmp/probe && echo tmp-ok; "
                                            "touch /probe 2>/dev/null || echo root-read-only"])
    lines = probe.output.decode().split("\n")
    assert probe.exit_code == 0 and lines[0] == "10001", probe.output
    assert lines[1].split()[1:] == ["10001"] * 4, probe.output  # real, effective, saved and filesystem uid of PID 1
    assert lines[2:4] == ["tmp-ok", "root-read-only"], probe.output
    platform.api.post(f"/api/v1/runs/{run_id}/cancel/", format="json")
    platform.wait_for(run_id, "CANCELLED")


def test_a_launch_message_delivered_three_times_starts_one_container(platform):
    from controlplane.runs.tasks import launch_run

    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=6)
    launch_run.delay(run_id)
    launch_run.delay(run_id)
    platform.wait_for(run_id, "RUNNING")
    assert len(platform.containers(run_id)) == 1
    assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    assert len(platform.containers(run_id)) <= 1


def test_killing_the_worker_mid_run_does_not_lose_the_run(platform):
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=6)
    platform.wait_for(run_id, "RUNNING")
    platform.worker.kill_9()
    assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    platform.worker.start()  # the next reconciler removes the container nobody else would
    wait_until(lambda: not platform.containers(run_id), timeout=30, what="the container removed after restart")


def test_a_runner_killed_before_its_first_heartbeat_crashes_the_run(platform):
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=60)
    wait_until(lambda: platform.containers(run_id), timeout=60, what="the run's container")
    platform.containers(run_id)[0].kill()
    run = platform.wait_for(run_id, "CRASHED", "FAILED", "SUCCEEDED", timeout=30)
    assert (run["state"], run["reason"]) == ("CRASHED", "heartbeat_lost"), run


def test_out_of_memory_ends_the_run_as_oom_killed(platform):
    run_id = platform.trigger(platform.deploy(memory=128), mode="oom")
    run = platform.wait_for(run_id, "FAILED", "CRASHED", "SUCCEEDED", "TIMED_OUT")
    assert (run["state"], run["reason"], run["exit_code"]) == ("FAILED", "oom_killed", 137), run


def test_a_run_past_its_timeout_is_timed_out_and_not_reported_as_oom(platform):
    run_id = platform.trigger(platform.deploy(timeout=3), mode="sleep", seconds=60)
    run = platform.wait_for(run_id, "TIMED_OUT", "FAILED", "CRASHED", "SUCCEEDED")
    assert (run["state"], run["reason"]) == ("TIMED_OUT", "timeout"), run
    wait_until(lambda: not [c for c in platform.containers(run_id) if c.status == "running"], timeout=20,
               what="the timed-out container killed")


def test_cancelling_a_running_run_stops_its_container(platform):
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=60)
    platform.wait_for(run_id, "RUNNING")
    assert platform.api.post(f"/api/v1/runs/{run_id}/cancel/", format="json").json()["state"] == "CANCELLING"
    run = platform.wait_for(run_id, "CANCELLED", "FAILED", "CRASHED", "SUCCEEDED", timeout=30)
    assert (run["state"], run["reason"]) == ("CANCELLED", "cancelled"), run


def test_a_control_plane_restart_with_a_run_in_flight_loses_nothing(platform):
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=8)
    platform.wait_for(run_id, "RUNNING")
    platform.worker.stop()
    platform.worker.start()
    assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    wait_until(lambda: not platform.containers(run_id), timeout=30, what="the container removed")


def test_a_secret_printed_encoded_and_in_a_traceback_is_never_stored_raw(platform):
    import base64

    from controlplane.deployments.secrets import secret_set
    from controlplane.runs.models import RunLogLine

    value = "hunter2-Sup3r-Secret"
    secret_set(actor=None, environment=platform.tenant.test_env, name="API_KEY", value=value)
    run_id = platform.trigger(platform.deploy(secrets=["API_KEY"]), mode="secret")
    assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "SUCCEEDED"
    stored = "\n".join(RunLogLine.objects.filter(run_id=run_id).values_list("message", flat=True))
    assert "the key is ***" in stored and "Traceback" in stored and "RuntimeError" in stored
    for form in (value, base64.b64encode(value.encode()).decode(), base64.b64encode(value.encode()).decode().rstrip("=")):
        assert form not in stored, f"{form!r} was stored"


@pytest.fixture(scope="module")
def engine_with_behaviours(own_docker_engine, behaviours_image):
    """The module's own Docker engine (never the machine's), with the behaviours image pulled by digest from the
    test registry as a Docker host would; shared by the tests of the module that stop or restart an engine."""
    ref, digest = behaviours_image
    own_docker_engine.pull(f"{ref.rsplit(':', 1)[0]}@{digest}")
    return own_docker_engine


@pytest.fixture
def platform_on_own_engine(live_server, behaviours_image, engine_with_behaviours, tmp_path):
    """Like `platform`, but the default runtime target runs on the module's own engine only."""
    engine = engine_with_behaviours
    with running_platform(live_server, behaviours_image, engine.client(), tmp_path,
                          target_settings=engine.target_settings) as platform:
        yield platform


def test_a_docker_engine_restart_during_a_run_ends_it_as_crashed_and_the_engine_comes_back(
    platform_on_own_engine, engine_with_behaviours, docker_client
):
    platform, engine = platform_on_own_engine, engine_with_behaviours
    run_id = platform.trigger(platform.deploy(), mode="sleep", seconds=60)
    platform.wait_for(run_id, "RUNNING")
    assert len(platform.containers(run_id)) == 1
    assert not docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})  # not the machine's
    engine.stop()  # SIGTERM to this test's dockerd only; it stops its containers on the way down
    engine.start()  # returns once the engine answers again
    run = platform.wait_for(run_id, "CRASHED", "FAILED", "SUCCEEDED", "CANCELLED", timeout=90)
    assert (run["state"], run["reason"]) == ("CRASHED", "worker_lost"), run
    wait_until(lambda: not platform.containers(run_id), timeout=30, what="the crashed run's container removed")
    assert docker_client.ping()  # the machine's engine answered throughout
