"""Concurrency limits: whether a QUEUED run may be launched now, must wait, or is skipped.

Three limits apply, checked in this order:
- the deployment's `concurrency` (flowyard.json, with environment overrides); its `concurrency-policy` says
  what a run over it does: "queue" waits in QUEUED, "skip" is ended at once as CANCELLED;
- the project's `max_concurrent_runs` (set by platform staff): always waits;
- the runtime target's `max_concurrent_runs` (the target the run's config selects, see runs/targets.py),
  counted over the runs launched there: always waits.

Only launched runs count (STARTING, RUNNING, CANCELLING): a QUEUED run holds no slot. `limit_decision(run)`
is asked inside the launcher's claim transaction, which never needs to know which limit or policy applied:
ALLOW → launch; WAIT → roll back (the run stays QUEUED; the message says why); SKIP → `skip_run` and commit.

Before counting against a limit, the row that owns it (deployment, project, runtime target) is locked
`FOR UPDATE` until the launcher's transaction ends. Without it, two launchers on PostgreSQL could each count
the other's launch as not yet started and both take the last slot; with it, the second waits for the first
to commit STARTING (or roll back) and counts it. Launches under a limit therefore take turns per owner;
launches with no limit configured lock nothing. (SQLite serialises every writer anyway.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.db.models import Model, Q

from controlplane.deployments.models import Deployment
from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.runs.targets import target_of_run
from controlplane.runtimes.backends.base import LaunchFailed
from controlplane.runtimes.models import RuntimeTarget
from controlplane.tenancy.models import Project
from controlplane.workflows.configs import run_config
from flowyard_spec.states import ACTIVE_RUN_STATES, RunReason, RunState

LAUNCHED_STATES = ACTIVE_RUN_STATES - {RunState.SCHEDULED, RunState.QUEUED}


class Verdict(StrEnum):
    """What the launcher does with a QUEUED run."""

    ALLOW = "allow"  # launch it now
    WAIT = "wait"  # leave it QUEUED; the reconciler offers it again (until its start timeout)
    SKIP = "skip"  # end it now as CANCELLED (the deployment's concurrency-policy is "skip")


@dataclass(frozen=True)
class Decision:
    """A verdict and, unless ALLOW, what held the run back.

    A WAIT message reads after "Waiting to start: " (the launcher keeps it on the run); a SKIP message is the
    cancelled run's message as it stands.
    """

    verdict: Verdict
    message: str = ""

    @property
    def allowed(self) -> bool:
        """True when the run may be launched now."""
        return self.verdict is Verdict.ALLOW


ALLOW = Decision(Verdict.ALLOW)


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _hold(model: type[Model], pk: object) -> None:
    """Lock the row that owns a limit until the caller's transaction ends (see the module docstring)."""
    if transaction.get_connection().in_atomic_block:
        list(model.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


def limit_decision(run: Run) -> Decision:
    """Whether launching `run` now keeps its deployment, project and runtime target within their limits."""
    launched = Run.objects.filter(state__in=LAUNCHED_STATES)
    config = run_config(run)
    if config.concurrency is not None:
        _hold(Deployment, run.deployment_id)
        active = launched.filter(deployment=run.deployment).count()
        if active >= config.concurrency:
            going = f"{_runs(active)} of this deployment {_are(active)} already running"
            if config.concurrency_policy == "skip":
                return Decision(Verdict.SKIP, f"Skipped: {going} (concurrency {config.concurrency}, policy skip)")
            return Decision(Verdict.WAIT, f"{going} (concurrency {config.concurrency}, policy queue).")
    project = run.deployment.environment.project
    if project.max_concurrent_runs is not None:
        _hold(Project, project.pk)
        active = launched.filter(deployment__environment__project=project).count()
        if active >= project.max_concurrent_runs:
            return Decision(Verdict.WAIT, f"{_runs(active)} of project {project.slug} {_are(active)} already running "
                                          f"(project limit {project.max_concurrent_runs}).")
    try:
        target = target_of_run(run)
    except LaunchFailed:
        target = None  # no target fits its config: the launcher fails the run with the reason
    if target is not None and target.max_concurrent_runs is not None:
        _hold(RuntimeTarget, target.pk)
        # Launched runs record their target; older ones (launched before it was recorded) count where their
        # environment points, environments that name no target on the default one.
        by_environment = Q(deployment__environment__runtime=target)
        if target.is_default:
            by_environment |= Q(deployment__environment__runtime__isnull=True)
        active = launched.filter(Q(runtime_target=target) | Q(runtime_target__isnull=True) & by_environment).count()
        if active >= target.max_concurrent_runs:
            return Decision(Verdict.WAIT, f"{_runs(active)} on runtime target {target.name} {_are(active)} already "
                                          f"running (target limit {target.max_concurrent_runs}).")
    return ALLOW


def skip_run(run: Run, decision: Decision) -> RunState:
    """End a QUEUED run the limits skip as CANCELLED with the decision's message, save it, return its state.

    The caller holds the run (the launcher's claim) and must commit, not roll back, its transaction.
    """
    lifecycle.transition(run, RunState.CANCELLED, reason=RunReason.CANCELLED, message=decision.message)
    run.save()
    return RunState.CANCELLED
