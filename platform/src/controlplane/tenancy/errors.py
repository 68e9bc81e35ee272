"""Errors raised by tenancy services."""

from controlplane.core.errors import FlowyardError


class TenancyError(FlowyardError):
    """Base of every tenancy refusal."""

    code = "tenancy_error"


class StillInUse(TenancyError):
    """A team or project cannot be deleted while it still owns something."""

    code = "still_in_use"
    http_status = 409
