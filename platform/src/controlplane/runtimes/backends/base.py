"""The one interface every runtime backend implements, and the values that cross it.

A backend knows nothing of Django models: the control plane hands it a `LaunchSpec` and reads back
`RuntimeStatus` values. Every method is safe to call again (Celery may deliver a message twice, and the
reconciler calls `inspect` and `terminate` over and over):

- `launch` creates and starts the workload named `spec.name`; if a workload of that name already exists it
  launches nothing and returns the existing one's reference (so a run never gets two containers);
- `inspect`, `terminate`, `remove` and `logs` take the run id; a workload that is gone is `missing`, not an
  error;
- `list_workloads` finds every workload this installation of Flowyard launched on this target (by label /
  tag), so the reconciler can re-attach after a restart and remove orphans. Every workload carries
  `INSTALLATION_LABEL` = the backend's `installation_id`, and another installation's workloads on the same
  engine or cluster are never listed (so never removed). Neither are workloads without the label: they were
  launched by a control plane that predates the label, which may be another installation just as well. A
  backend made with no `installation_id` (tools, tests) labels nothing and lists every Flowyard workload.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

# Label (or tag) keys put on every workload; `RUN_LABEL` is how workloads are found again.
RUN_LABEL = "org.flowyard.run"
PROJECT_LABEL = "org.flowyard.project"
ENVIRONMENT_LABEL = "org.flowyard.environment"
WORKFLOW_LABEL = "org.flowyard.workflow"
MANAGED_LABEL = "org.flowyard.managed"
INSTALLATION_LABEL = "org.flowyard.installation"  # which control plane installation launched the workload


def of_installation(labels: Mapping[str, str], installation_id: str) -> bool:
    """Whether a workload with these labels (or tags) is listed by the backend of installation `installation_id`."""
    return not installation_id or labels.get(INSTALLATION_LABEL) == installation_id


def workload_name(run_id: object) -> str:
    """The name of a run's container / task family member: the same for every launch attempt of the run."""
    return f"flowyard-run-{run_id}"


class RuntimeBackendError(Exception):
    """Base of backend failures the control plane can act on."""


class LaunchFailed(RuntimeBackendError):
    """The workload could not be created or started; `image_error` says whether the image is at fault."""

    def __init__(self, message: str, *, image_error: bool = False) -> None:
        super().__init__(message)
        self.image_error = image_error


class TargetUnavailable(RuntimeBackendError):
    """The runtime target (Docker host, ECS endpoint) does not answer; try again later."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a backend needs to start one run."""

    run_id: str
    image: str
    environment: Mapping[str, str]  # FLOWYARD_* variables, parameters and secrets (values never logged)
    cpu_units: int  # ECS units: 1024 = one vCPU
    memory_mib: int
    labels: Mapping[str, str]
    command: list[str] | None = None  # None: the image's entrypoint (the runner)
    secret_names: frozenset[str] = frozenset()  # which environment keys are secrets
    pids_limit: int = 512
    result_scope: str = ""  # whose result store the run reads and writes cached task results in (an environment id)

    @property
    def name(self) -> str:
        """The workload's name: `flowyard-run-<run id>`."""
        return workload_name(self.run_id)


class WorkloadState(StrEnum):
    """What the runtime says about a run's workload."""

    PENDING = "pending"  # created, not running yet (ECS PROVISIONING/PENDING, container created)
    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"  # no such workload (never launched, removed, or the host lost it)


@dataclass(frozen=True)
class RuntimeStatus:
    """A snapshot of a run's workload."""

    state: WorkloadState
    ref: str = ""  # container id / task ARN / pid
    exit_code: int | None = None
    oom_killed: bool = False  # the runtime itself says the kernel OOM killer ended it (not a plain kill)
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    message: str = ""  # the runtime's own words (e.g. ECS stoppedReason, Docker state error)
    image_error: bool = False  # the image could not be pulled or its entrypoint not executed


@dataclass(frozen=True)
class LogLine:
    """One line of a workload's own output (stdout/stderr), as the runtime kept it."""

    at: datetime.datetime
    stream: str  # "stdout" or "stderr"
    message: str


@dataclass
class RuntimeBackend(abc.ABC):
    """A place runs are launched: one instance per runtime target, built from that target's settings."""

    kind: ClassVar[str]
    # True when `list_workloads` already gives each workload's whole status (exit code, OOM flag, usage), so the
    # reconciler does not inspect every listed workload again
    lists_full_status: ClassVar[bool] = False
    settings: Mapping[str, Any] = field(default_factory=dict)
    installation_id: str = ""  # put on every workload as INSTALLATION_LABEL; list_workloads lists only these

    def installation_labels(self) -> dict[str, str]:
        """The label (or tag) that marks a workload as this installation's ({} without an installation id)."""
        return {INSTALLATION_LABEL: self.installation_id} if self.installation_id else {}

    def result_url(self, *, scope: str, location: str, upload: bool) -> str | None:
        """A URL signed for a runner to read (or, with `upload`, write) the cached result at `location` in the result
        store of `scope` (an environment id), or None when this target's runs keep results elsewhere (a volume)."""
        return None

    def result_store_remove(self, scope: str) -> None:
        """Delete the result store of `scope` (an environment that was deleted) on this target, if it has one;
        `TargetUnavailable` when that cannot be done now (asked again later)."""

    @abc.abstractmethod
    def launch(self, spec: LaunchSpec) -> str:
        """Create and start the run's workload unless one of that name exists; return its reference."""

    @abc.abstractmethod
    def inspect(self, run_id: str) -> RuntimeStatus:
        """The workload's state now (MISSING when there is none)."""

    @abc.abstractmethod
    def terminate(self, run_id: str, *, grace_seconds: float) -> None:
        """Ask the workload to stop (SIGTERM), and kill it if it is still running after `grace_seconds`.

        Returns once the stop was requested; it need not wait for the grace period (the reconciler checks
        back). A missing or already exited workload is fine.
        """

    @abc.abstractmethod
    def kill(self, run_id: str) -> None:
        """Stop the workload at once (SIGKILL / StopTask); a missing one is fine."""

    @abc.abstractmethod
    def remove(self, run_id: str) -> None:
        """Delete what is left of an exited workload (container, task record); a missing one is fine."""

    def clear_leftover(self, run_id: str) -> None:
        """Before a launch: stop and remove what an earlier launch of the run left (one that died before its
        transaction committed), so the new workload gets the new run token."""
        if self.inspect(run_id).state != WorkloadState.MISSING:
            self.kill(run_id)
            self.remove(run_id)

    @abc.abstractmethod
    def logs(self, run_id: str) -> Iterator[LogLine]:
        """The workload's own output, oldest first (empty when there is none)."""

    @abc.abstractmethod
    def list_workloads(self) -> dict[str, RuntimeStatus]:
        """Every workload this installation launched on this target (see `of_installation`), by run id."""
