"""Errors raised by run services."""

from controlplane.core.errors import FlowyardError


class RunError(FlowyardError):
    """Base of every run refusal."""

    code = "run_error"


class TransitionRefused(RunError):
    """A state change the lifecycle rules do not allow (e.g. anything after a terminal state)."""

    code = "transition_refused"
    http_status = 409


class NothingDeployed(RunError):
    """A run was asked of a deployment that has no version."""

    code = "nothing_deployed"
    http_status = 409


class RuntimeUnavailable(RunError):
    """A run was asked whose config's cloud-execution-environment no runtime target of its environment serves."""

    code = "runtime_unavailable"
    http_status = 409


class NoResultUrls(RunError):
    """A runner asked for a signed result URL, but its run's target keeps cached results in a directory (a volume)."""

    code = "no_result_urls"
    http_status = 409
