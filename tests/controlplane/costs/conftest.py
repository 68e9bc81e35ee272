"""Fixtures of the costs tests: runtime targets of each kind, and runs that end with known resources and times."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db import transaction

from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import RunState
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import Tenant, digest

START = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture
def fargate() -> RuntimeTarget:
    """An ECS target with no price table: Fargate's default prices apply."""
    return RuntimeTarget.objects.create(name="fargate", kind="ecs", settings={"cluster": "flowyard"})


@pytest.fixture
def docker_target() -> RuntimeTarget:
    """A Docker target with no price table: it costs nothing by default."""
    return RuntimeTarget.objects.create(name="docker-hosts", kind="docker")


@pytest.fixture
def finish_run(django_capture_on_commit_callbacks) -> Callable[..., Run]:
    """`finish_run(tenant, target, cpu=, memory=, seconds=, ...)`: a run of a version asking for `cpu` units and
    `memory` MiB that ran `seconds` on `target` and ended (its `run_ended` receivers run, as after a real commit)."""
    versions: dict[tuple, object] = {}

    def finish(tenant: Tenant, target: RuntimeTarget | None, *, cpu: int = 1024, memory: int = 2048, seconds: float = 3600,
               started_at: datetime.datetime = START, state: RunState = RunState.SUCCEEDED, environments: dict | None = None,
               deployment=None, cpu_seconds: float | None = None, peak_memory_bytes: int | None = None,
               started: bool = True) -> Run:
        deployment = deployment or tenant.test_deployment
        key = (deployment.workflow_id, cpu, memory, repr(environments))
        if key not in versions:
            config = {"name": deployment.workflow.name, "cpu": cpu, "memory": memory,
                      **({"environments": environments} if environments else {})}
            versions[key] = register_version(
                workflow=deployment.workflow, image_ref=f"127.0.0.1:5000/costs:{len(versions)}",
                image_digest=digest(f"{tenant.prefix}-costs-{key}"), config=config)
        run = Run.objects.create(deployment=deployment, version=versions[key], state=RunState.RUNNING,
                                 started_at=started_at if started else None, runtime_target=target,
                                 cpu_seconds=cpu_seconds, peak_memory_bytes=peak_memory_bytes)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run.pk)
            lifecycle.transition(run, state)
            run.ended_at = started_at + datetime.timedelta(seconds=seconds)
            run.save()
        return run

    return finish
