"""Errors raised by tenancy services."""

from controlplane.core.errors import FlowyardError


class TenancyError(FlowyardError):
    """Base of every tenancy refusal."""

    code = "tenancy_error"
