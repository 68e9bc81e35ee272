"""What a DescribeTasks task says, in Flowyard's terms: pure functions over the API's dictionaries."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from controlplane.runtimes.backends.base import RUN_LABEL, RuntimeStatus, WorkloadState
from controlplane.runtimes.backends.ecs.taskdef import CONTAINER

REMOVED_TAG = "org.flowyard.removed"  # put on a task by `remove`: ECS cannot delete a task record
PENDING_STATUSES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
RUNNING_STATUSES = frozenset({"RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"})  # alive until STOPPED
OOM_WORDS = "OutOfMemoryError"  # ECS's container reason: "OutOfMemoryError: Container killed due to memory usage"
IMAGE_WORDS = ("CannotPullContainerError",)
ENTRYPOINT_WORDS = ("executable file not found", "exec format error", "no such file or directory")

_EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def tags_of(task: Mapping[str, Any]) -> dict[str, str]:
    """The task's tags as a dict (DescribeTasks answers them only with include=["TAGS"])."""
    return {tag["key"]: tag.get("value", "") for tag in task.get("tags") or []}


def is_removed(task: Mapping[str, Any]) -> bool:
    """True when Flowyard's `remove` has marked the task as gone."""
    return tags_of(task).get(REMOVED_TAG) == "true"


def run_id_of(task: Mapping[str, Any]) -> str | None:
    """The run a task belongs to, from its RUN_LABEL tag (None: not a Flowyard run's task)."""
    return tags_of(task).get(RUN_LABEL) or None


def pick(tasks: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The task that stands for a run when there are several: a live one first, then the newest."""
    def key(task: Mapping[str, Any]) -> tuple[bool, datetime.datetime, str]:
        return (task.get("lastStatus") != "STOPPED", task.get("createdAt") or _EPOCH, task.get("taskArn", ""))

    return max(tasks, key=key, default=None)


def _container(task: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = task.get("containers") or []
    return next((c for c in containers if c.get("name") == CONTAINER), containers[0] if containers else {})


def is_image_error(text: str) -> bool:
    """True when ECS's words say the image could not be pulled or its entrypoint could not be executed."""
    if any(words in text for words in IMAGE_WORDS):
        return True
    return "CannotStartContainerError" in text and any(words in text for words in ENTRYPOINT_WORDS)


def task_status(task: Mapping[str, Any]) -> RuntimeStatus:
    """A RuntimeStatus from one DescribeTasks task."""
    last = task.get("lastStatus", "")
    container = _container(task)
    common = {"ref": task.get("taskArn", ""), "started_at": task.get("startedAt")}
    if last == "STOPPED":
        stopped_reason = task.get("stoppedReason") or ""
        container_reason = container.get("reason") or ""
        message = "; ".join(part for part in (stopped_reason, container_reason) if part)
        return RuntimeStatus(
            WorkloadState.EXITED,
            exit_code=container.get("exitCode"),
            oom_killed=OOM_WORDS in container_reason,
            finished_at=task.get("stoppedAt") or task.get("executionStoppedAt"),
            message=message,
            image_error=is_image_error(message),
            **common,
        )
    if last in PENDING_STATUSES or (last not in RUNNING_STATUSES and not task.get("startedAt")):
        return RuntimeStatus(WorkloadState.PENDING, **common)
    return RuntimeStatus(WorkloadState.RUNNING, **common)
