"""Errors raised by run services."""

from controlplane.core.errors import Conflict


class TransitionRefused(Conflict):
    """A state change the lifecycle rules do not allow (e.g. anything after a terminal state)."""

    code = "transition_refused"
