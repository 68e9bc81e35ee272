"""The task definition a run's image and size get: built, named and fingerprinted without calling AWS."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controlplane.runtimes.backends.base import MANAGED_LABEL
from controlplane.runtimes.backends.ecs.settings import EcsSettings

CONTAINER = "workflow"  # the one container of every task definition
STREAM_PREFIX = "run"  # awslogs stream names: run/workflow/<task id>
RUN_USER = "10001"  # the runtime image's non-root user
FINGERPRINT_TAG = "org.flowyard.task-definition"  # sha256 of the registration request, on the task definition


def family_for(image: str, cpu_units: int, memory_mib: int) -> str:
    """`flowyard-<sha256 of (image, cpu, memory)>`: one family per image and size."""
    digest = hashlib.sha256(json.dumps([image, cpu_units, memory_mib]).encode()).hexdigest()
    return f"flowyard-{digest}"[:255]


def log_stream(task_arn: str) -> str:
    """The CloudWatch Logs stream the awslogs driver writes the task's container output to."""
    return f"{STREAM_PREFIX}/{CONTAINER}/{task_arn.rsplit('/', 1)[-1]}"


def task_definition_request(settings: EcsSettings, image: str, cpu_units: int, memory_mib: int) -> dict[str, Any]:
    """The RegisterTaskDefinition arguments (without tags) for `image` at this size on this target.

    Nothing run-specific goes in here (the run's environment and command are RunTask overrides), so every run of
    an image and size on a target shares one revision.
    """
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        # The container's own limits equal the task's: Fargate accepts it, and moto needs a container memory.
        "cpu": cpu_units,
        "memory": memory_mib,
        "user": RUN_USER,
        "readonlyRootFilesystem": True,
        # Fargate has no tmpfs: /tmp is a task volume on the task's ephemeral storage, writable by the runner.
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
        "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
        "stopTimeout": settings.stop_grace_seconds,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": settings.log_group,
                "awslogs-region": settings.region,
                "awslogs-stream-prefix": STREAM_PREFIX,
            },
        },
    }
    request: dict[str, Any] = {
        "family": family_for(image, cpu_units, memory_mib),
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(cpu_units),
        "memory": str(memory_mib),
        "volumes": [{"name": "tmp"}],
        "containerDefinitions": [container],
    }
    if settings.execution_role_arn:
        request["executionRoleArn"] = settings.execution_role_arn
    if settings.task_role_arn:
        request["taskRoleArn"] = settings.task_role_arn
    return request


def fingerprint(request: dict[str, Any]) -> str:
    """A sha256 of the registration request: equal fingerprints mean an equal task definition."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def tags_for(request: dict[str, Any]) -> list[dict[str, str]]:
    """The tags a registered task definition carries: managed by Flowyard, and the request's fingerprint."""
    return [{"key": MANAGED_LABEL, "value": "true"}, {"key": FINGERPRINT_TAG, "value": fingerprint(request)}]
