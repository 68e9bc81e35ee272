"""Exceptions the SDK raises; cancellation derives from BaseException so user code cannot swallow it."""

from __future__ import annotations


class FlowCancelled(BaseException):
    """The flow run was cancelled (SIGTERM, SIGINT or a cancel request from the control plane)."""


class FlowyardError(Exception):
    """Base of the SDK's ordinary errors."""


class ParameterError(FlowyardError, ValueError):
    """A flow parameter is missing, unknown or of the wrong type; the message names the parameter."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"parameter '{parameter}': {problem}")
        self.parameter = parameter
        self.problem = problem


class TaskTimeout(FlowyardError, TimeoutError):
    """A task attempt ran longer than its `timeout_seconds`."""


class TaskExited(FlowyardError):
    """A task called sys.exit(): that fails the task (a flow's own sys.exit ends the flow by its code)."""


class UpstreamFailed(FlowyardError):
    """A task did not run because a future among its inputs did not succeed."""


class FlowFailed(FlowyardError):
    """A flow run failed without its function raising (a submitted task failed and nobody read its result)."""


class EntrypointError(FlowyardError):
    """The runner could not find or load what it was asked to run."""
