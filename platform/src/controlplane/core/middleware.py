"""Middleware of the whole control plane: a database that does not answer is a 503 with a clear body, not a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
BODY = {
    "code": "database_unavailable",
    "message": "The control plane's database does not answer right now; nothing was changed. Try again in a few "
               "seconds (runners keep their events and send them again by themselves).",
    "extra": {"retry_after_seconds": RETRY_AFTER_SECONDS},
}


def database_answers() -> bool:
    """Whether the default database takes a connection and a query now."""
    try:
        connection.ensure_connection()
        return connection.is_usable()
    except Exception:  # noqa: BLE001 - any failure to connect means it does not answer
        return False


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into 503 `database_unavailable` with Retry-After, for the API,
    the runners and the portal alike (a runner retries 5xx answers with backoff)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Pass the request on; `process_exception` answers for a database outage."""
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """503 for connection errors of the database (the connection is closed at the request's end and opened
        again by the next one); anything else goes on to Django's own handling."""
        if not isinstance(exception, (OperationalError, InterfaceError)) or database_answers():
            return None  # e.g. a missing table: a real error, shown as one
        logger.warning("%s %s: the database does not answer: %s", request.method, request.path,
                       type(exception).__name__)
        response = JsonResponse(BODY, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
