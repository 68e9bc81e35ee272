"""Errors raised by the costs app (one base, rendered by the API's one handler as {code, message, extra})."""

from controlplane.core.errors import FlowyardError


class CostsError(FlowyardError):
    """Base of every costs refusal."""

    code = "costs_error"


class RunNotPriced(CostsError):
    """The run has not ended yet (or ended before costs were recorded and was not backfilled)."""

    code = "run_not_priced"
    http_status = 404
