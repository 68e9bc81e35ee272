"""Real receivers for the alerts' channels, on 127.0.0.1: an SMTP server (aiosmtpd) that keeps every message, and
an HTTP receiver that keeps every request and answers the status it is told to (200 by default, 500 for a
broken channel).

`smtp_sink` and `hook_receivers` are the fixtures; `verify_signature` checks a generic webhook's signature the
way docs/alerts.md tells receivers to.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from flowyard_testkit.ports import free_port

REPLAY_WINDOW_SECONDS = 300


class SmtpSink:
    """An SMTP server on a free loopback port; `messages` holds every e-mail it accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Keep the message (aiosmtpd calls this for every accepted e-mail)."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def start(self) -> SmtpSink:
        """Start serving."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()


@dataclass(frozen=True)
class ReceivedRequest:
    """One POST as the receiver got it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int


class HookReceiver:
    """An HTTP server on a free loopback port that records every POST and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[ReceivedRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.status
                receiver.requests.append(ReceivedRequest(
                    self.path, {name.lower(): value for name, value in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> HookReceiver:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def verify_signature(secret: str, request: ReceivedRequest, *, now: float | None = None) -> bool:
    """Whether a generic webhook's request is signed with `secret` and fresh, as docs/alerts.md says to check."""
    timestamp = request.headers.get("x-flowyard-timestamp", "")
    signature = request.headers.get("x-flowyard-signature", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request.body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started SMTP server that keeps every message; stopped after the test."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def hook_receivers() -> Iterator:
    """A factory of started HTTP receivers (`hook_receivers(status=500)`); all stopped after the test."""
    started: list[HookReceiver] = []

    def start(status: int = 200) -> HookReceiver:
        receiver = HookReceiver(status).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()
