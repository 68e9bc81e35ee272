"""The runtime target a run is on: the one it was launched on, else the one its config selects now."""

from __future__ import annotations

from controlplane.runs.models import Run
from controlplane.runtimes.backends.base import RuntimeBackend
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import backend_of, target_for_run_config


def target_of_run(run: Run) -> RuntimeTarget:
    """Where `run` is (or would be) launched.

    A launched run records its target (`Run.runtime_target`), so it is watched, limited and stopped there even
    after an admin points its environment at another target; before launch, and for runs launched before the
    target was recorded, the config's cloud-execution-environment and the environment decide
    (`runtimes.selectors.target_for_run_config`, which raises LaunchFailed when no target fits).
    """
    if run.runtime_target is not None:
        return run.runtime_target
    return target_for_run_config(run.deployment.environment, run.version.config)


def backend_of_run(run: Run) -> RuntimeBackend:
    """The backend instance of `target_of_run(run)`."""
    return backend_of(target_of_run(run))
