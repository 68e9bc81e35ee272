"""R6: the broker (the test's own redis-server, never the machine's) is down for two minutes. A run in flight
finishes and reports (the runner talks HTTP to the control plane, not to the broker); a run triggered during the
outage is accepted and waits QUEUED; when the broker is back (empty: what it held is lost) the reconciler offers
the queued run again and it runs once. Nothing is launched twice."""

from __future__ import annotations

import time

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, running_platform, wait_until  # noqa: F401
from flowyard_testkit.services import celery_broker, own_redis  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE_SECONDS = 120
ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")


def test_a_two_minute_broker_outage_loses_no_run_and_launches_none_twice(
        live_server, behaviours_image, docker_client, tmp_path, own_redis):  # noqa: F811
    from controlplane.runs.models import Run

    # The queued run waits out the outage: its start deadline must be longer than that.
    env = {"FLOWYARD_BROKER_URL": own_redis.url, "FLOWYARD_START_TIMEOUT_SECONDS": "600"}
    with celery_broker(own_redis.url), running_platform(live_server, behaviours_image, docker_client, tmp_path,
                                                        env=env) as platform:
        deployment = platform.deploy()
        in_flight = platform.trigger(deployment, mode="sleep", seconds=12)
        platform.wait_for(in_flight, "RUNNING")

        own_redis.stop()
        outage_began = time.monotonic()
        queued = platform.trigger(deployment, mode="ok")  # accepted: the enqueue fails and is only logged
        assert platform.run(queued)["state"] == "QUEUED"
        finished = platform.wait_for(in_flight, *ENDED, timeout=OUTAGE_SECONDS - 20)
        assert finished["state"] == "SUCCEEDED", "a run in flight finishes and reports without the broker"
        wait_until(lambda: time.monotonic() - outage_began >= OUTAGE_SECONDS, timeout=OUTAGE_SECONDS + 5,
                   what="the outage's two minutes", every=1)
        assert platform.run(queued)["state"] == "QUEUED", "nothing launches without the broker"

        own_redis.start()
        assert platform.wait_for(queued, *ENDED, timeout=180)["state"] == "SUCCEEDED"

        for run_id in (in_flight, queued):
            assert platform.logs(run_id).count("first line of user code") == 1, "user code ran once"
            tasks = platform.api.get(f"/api/v1/runs/{run_id}/tasks/").json()
            assert [(task["name"], task["attempt"]) for task in tasks] == [("work", 1)]
        assert not Run.objects.filter(retry_of__in=[in_flight, queued]).exists()
        assert Run.objects.get(pk=queued).attempt == 1
