"""The one state model for runs and task runs, shared by the control plane, the SDK and the CLI."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run is in its life; the last five are terminal and never change."""

    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    CRASHED = "CRASHED"

    @property
    def is_terminal(self) -> bool:
        """True when the run has ended and its state can no longer change."""
        return self in TERMINAL_RUN_STATES


TERMINAL_RUN_STATES: frozenset[RunState] = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT, RunState.CRASHED}
)
ACTIVE_RUN_STATES: frozenset[RunState] = frozenset(RunState) - TERMINAL_RUN_STATES


class RunReason(StrEnum):
    """Why a run that did not succeed ended the way it did."""

    USER_ERROR = "user_error"
    OOM_KILLED = "oom_killed"
    TIMEOUT = "timeout"
    START_TIMEOUT = "start_timeout"
    HEARTBEAT_LOST = "heartbeat_lost"
    WORKER_LOST = "worker_lost"
    IMAGE_ERROR = "image_error"
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    """Where one task of a flow is; the last five are terminal."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CACHED = "CACHED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True when the task has ended."""
        return self in TERMINAL_TASK_STATES


TERMINAL_TASK_STATES: frozenset[TaskState] = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CACHED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
)


class TriggerKind(StrEnum):
    """What started a run."""

    MANUAL = "manual"
    API = "api"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    UPSTREAM = "upstream"
    BACKFILL = "backfill"
    RETRY = "retry"


class Role(StrEnum):
    """Per-project roles, each including everything the ones before it may do."""

    VIEWER = "viewer"
    DEVELOPER = "developer"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the ordering viewer < developer < approver < admin."""
        return list(Role).index(self)

    def includes(self, other: "Role") -> bool:
        """True when this role may do everything `other` may."""
        return self.rank >= other.rank
