"""Requests to the control plane with the run token, with urllib (stdlib only): event batches and cache records."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from flowyard import __version__


class Unreachable(Exception):
    """The control plane could not be reached (refused, reset, timed out, bad answer)."""


def _send(method: str, url: str, token: str, body: bytes | None, timeout: float) -> tuple[int, str]:
    """One request with the run token; (status, reply text) or raise Unreachable."""
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
        "User-Agent": f"flowyard-runner/{__version__}",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the configured API URL
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        try:
            raw = error.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        status = error.code
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise Unreachable(str(error)) from error
    return status, raw.decode("utf-8", errors="replace")


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        reply = json.loads(text) if text else None
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def post_events(url: str, token: str, events: list[dict[str, Any]], timeout: float) -> tuple[int, dict[str, Any] | None, str]:
    """POST `{"events": events}`; return (status, reply JSON or None, reply text) or raise Unreachable."""
    body = json.dumps({"events": events}, separators=(",", ":"), default=str, ensure_ascii=False).encode()
    status, text = _send("POST", url, token, body, timeout)
    return status, _json_object(text), text


def call_api(method: str, url: str, token: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, dict[str, Any] | None]:
    """One JSON request with the run token; (status, reply JSON or None), or raise Unreachable."""
    data = None if body is None else json.dumps(body, separators=(",", ":"), default=str).encode()
    status, text = _send(method, url, token, data, timeout)
    return status, _json_object(text)
