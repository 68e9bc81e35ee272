"""Deleting an environment deletes its cached results on every runtime target: the signal comes after the commit,
and the Celery task removes the environment's result volume from the Docker target (and, on ECS targets with a
bucket, its objects: tests/controlplane/runtimes/test_ecs_backend.py)."""

from __future__ import annotations

import contextlib

import pytest
from docker.errors import NotFound

from controlplane.deployments import services as deployments
from controlplane.deployments.signals import environment_deleted
from controlplane.runs.tasks import remove_result_stores
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import Role
from flowyard_testkit.docker_env import docker_client  # noqa: F401


@pytest.fixture
def scratch(tenant_a):
    """An environment of tenant A with nothing deployed to it."""
    return deployments.environment_create(actor=tenant_a.users[Role.ADMIN], project=tenant_a.project, name="scratch",
                                           order=40)


def test_the_deletion_is_announced_only_after_it_commits(tenant_a, scratch, django_capture_on_commit_callbacks):
    heard: list = []

    def listen(sender, environment_id, **kwargs):
        heard.append(environment_id)

    environment_id = scratch.pk
    environment_deleted.connect(listen)
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            deployments.environment_delete(actor=tenant_a.users[Role.ADMIN], environment=scratch)
            assert heard == [], "nothing is removed for a deletion that may still roll back"
        for callback in callbacks:
            callback()
    finally:
        environment_deleted.disconnect(listen)
    assert heard == [environment_id]


def test_the_task_removes_the_deleted_environments_result_volume_and_no_other(tenant_a, scratch, docker_client):  # noqa: F811
    RuntimeTarget.objects.create(name="local-docker", kind="docker", settings={"network_mode": "host"})
    environment_id = scratch.pk
    ours, other = f"flowyard-results-{environment_id}", f"flowyard-results-{tenant_a.test_env.pk}"
    for name in (ours, other):
        docker_client.volumes.create(name)  # as the engine makes it at the environment's first run
    try:
        deployments.environment_delete(actor=tenant_a.users[Role.ADMIN], environment=scratch)
        assert remove_result_stores.apply(args=[str(environment_id)]).successful()
        with pytest.raises(NotFound):
            docker_client.volumes.get(ours)
        assert docker_client.volumes.get(other), "another environment's results stay"
    finally:
        for name in (ours, other):
            with contextlib.suppress(NotFound):
                docker_client.volumes.get(name).remove(force=True)
