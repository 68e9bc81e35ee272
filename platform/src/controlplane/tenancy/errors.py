"""Errors raised by tenancy services."""

from controlplane.core.errors import FlowyardError


class TenancyError(FlowyardError):
    """Base of every tenancy refusal."""

    code = "tenancy_error"


class StillInUse(TenancyError):
    """A team or project cannot be deleted while it still owns something."""

    code = "still_in_use"
    http_status = 409


class SsoOnly(TenancyError):
    """A hand-made membership on an installation whose roles come only from SSO groups."""

    code = "sso_only"
    http_status = 409
