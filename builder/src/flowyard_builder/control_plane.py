"""A small HTTP client for the Flowyard control plane's CI endpoints (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from flowyard_builder import __version__

REGISTRATIONS_PATH = "/api/v1/registrations/"
DEFAULT_TIMEOUT_SECONDS = 30


class ControlPlaneError(Exception):
    """The control plane did not accept the request: `status` is None when it could not be reached."""

    def __init__(self, message: str, status: int | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}

    @property
    def fields(self) -> dict[str, list[str]]:
        """Per-field problems of a 400 answer (`extra.fields`), e.g. {"config.schedule": ["…"]}."""
        fields = (self.body.get("extra") or {}).get("fields") or {}
        return {str(k): v if isinstance(v, list) else [str(v)] for k, v in fields.items()} if isinstance(fields, dict) else {}


class InvalidRequest(ControlPlaneError):
    """400: the control plane found the input invalid (exit code 1)."""


class Refused(ControlPlaneError):
    """401/403/404/409/5xx or unreachable: the control plane refused or could not answer (exit code 3)."""


@dataclass
class Response:
    """A successful answer: HTTP status and decoded JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def decode_body(raw: bytes) -> Any:
    """An answer's JSON body decoded (an empty one as {}); one that is not JSON as {"message": its start}."""
    try:
        return json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return {"message": raw[:500].decode("utf-8", "replace")}


def _decode_object(raw: bytes) -> dict[str, Any]:
    body = decode_body(raw)
    return body if isinstance(body, dict) else {"data": body}


def send_request(request: urllib.request.Request, *, timeout: float, where: str) -> tuple[int, bytes]:
    """Send `request`: (status, raw body) of a 2xx answer, else InvalidRequest (400) or Refused (other, unreachable)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        body = _decode_object(exc.read())
        message = str(body.get("message") or body.get("detail") or exc.reason)
        error = InvalidRequest if exc.code == 400 else Refused
        raise error(f"HTTP {exc.code}: {message}", status=exc.code, body=body) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Refused(f"the control plane at {where} is unreachable: {reason}") from None


def post_json(url: str, token: str | None, payload: dict[str, Any], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Response:
    """POST `payload` as JSON with a bearer token (none when `token` is None, e.g. for `flowyard login`); a 2xx
    Response, else InvalidRequest (400) or Refused."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"flowyard-cli/{__version__}",
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST", headers=headers)
    status, raw = send_request(request, timeout=timeout, where=url)
    return Response(status, _decode_object(raw))


def register_version(api_url: str, token: str, payload: dict[str, Any], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Response:
    """Register a pushed build: POST {api_url}/api/v1/registrations/ (201 created, 200 digest already known)."""
    return post_json(api_url.rstrip("/") + REGISTRATIONS_PATH, token, payload, timeout=timeout)
