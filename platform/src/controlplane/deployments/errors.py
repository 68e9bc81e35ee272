"""Errors raised by deployment and promotion services."""

from controlplane.core.errors import FlowyardError


class DeploymentError(FlowyardError):
    """Base of every deployment or promotion refusal."""

    code = "deployment_error"


class SelfApprovalRefused(DeploymentError):
    """Approvers cannot approve their own change."""

    code = "self_approval"
    http_status = 403
