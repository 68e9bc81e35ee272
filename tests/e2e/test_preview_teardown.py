"""Tearing a merge request's preview down while its run is in a container: the run ends CANCELLED, its
container stops and goes, the preview keeps the run and its log. A real worker, the Docker backend, a live API."""

from __future__ import annotations

import pytest

from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import BEHAVIOURS_CONFIG, behaviours_image, platform, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_tearing_down_a_preview_stops_its_running_container_and_keeps_the_run(platform):
    from controlplane.deployments.models import Environment
    from controlplane.registration.services import version_register

    registration = version_register(
        actor=None, project=platform.tenant.project, workflow_name="behaviours", image_ref=platform.image[0],
        image_digest=platform.image[1], config={**BEHAVIOURS_CONFIG}, event="merge_request", merge_request_iid=41,
        git_branch="feature/slow", git_commit_sha="d" * 40)
    assert registration.deployment.environment.name == "mr-41"
    run_id = platform.trigger(str(registration.deployment.pk), mode="sleep", seconds=120)
    platform.wait_for(run_id, "RUNNING")
    assert [c.status for c in platform.containers(run_id)] == ["running"]

    response = platform.api.post("/api/v1/previews/teardown/",
                                 {"project": platform.tenant.project.slug, "merge_request_iid": 41}, format="json")
    assert response.status_code == 200, response.json()

    run = platform.wait_for(run_id, "CANCELLED", "FAILED", "CRASHED", "SUCCEEDED", timeout=30)
    assert (run["state"], run["reason"]) == ("CANCELLED", "cancelled"), run
    wait_until(lambda: not platform.containers(run_id), timeout=30, what="the cancelled run's container removed")
    preview = Environment.objects.get(project=platform.tenant.project, name="mr-41")
    assert preview.torn_down_at is not None and preview.deployments.get().version is None
    assert platform.run(run_id)["id"] == run_id and platform.logs(run_id), "the run and its log stay"
