"""Errors of the gitops app: refused webhook deliveries and repository-link problems."""

from controlplane.core.errors import FlowyardError


class GitopsError(FlowyardError):
    """Base of every gitops refusal."""

    code = "gitops_error"


class DeliveryUnauthenticated(GitopsError):
    """The delivery's token or signature is missing or wrong: nothing is stored or changed."""

    code = "forge_signature_invalid"
    http_status = 401


class DeliveryTooLarge(GitopsError):
    """The delivery's body is over the limit."""

    code = "forge_body_too_large"
    http_status = 413


class DeliveryMalformed(GitopsError):
    """A verified delivery that cannot be read (no delivery id, not JSON, a field the forge always sends missing)."""

    code = "forge_payload_invalid"
    http_status = 400


class ApproveInMergeRequest(GitopsError):
    """A promotion driven by a merge request is approved in the merge request, not through the API."""

    code = "approve_in_merge_request"
    http_status = 409
