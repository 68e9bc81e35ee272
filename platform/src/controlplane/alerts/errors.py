"""Errors of the alerts app (rendered by the API as {code, message, extra})."""

from controlplane.core.errors import FlowyardError


class AlertsError(FlowyardError):
    """Base of the alerts app's refusals."""

    code = "alerts_error"


class NameTaken(AlertsError):
    """Another channel (or rule) of the project has this name."""

    code = "name_taken"
    http_status = 409
