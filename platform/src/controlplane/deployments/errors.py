"""Errors raised by deployment and promotion services."""

from controlplane.core.errors import FlowyardError


class DeploymentError(FlowyardError):
    """Base of every deployment or promotion refusal."""

    code = "deployment_error"


class SelfApprovalRefused(DeploymentError):
    """Approvers cannot approve their own change."""

    code = "self_approval"
    http_status = 403


class DeploymentConflict(DeploymentError):
    """The request contradicts the current deployments or promotions (pending, decided, in use)."""

    code = "deployment_conflict"
    http_status = 409
