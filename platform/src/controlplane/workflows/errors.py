"""Errors raised by workflow services."""

from controlplane.core.errors import FlowyardError


class WorkflowError(FlowyardError):
    """Base of every workflow refusal."""

    code = "workflow_error"


class WorkflowHasVersions(WorkflowError):
    """A workflow with registered versions is kept for the record."""

    code = "workflow_has_versions"
    http_status = 409
