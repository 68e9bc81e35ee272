"""The sender interface every channel kind implements, the error a failed attempt raises, and HTTP posting."""

from __future__ import annotations

import abc
import importlib
from urllib.parse import urlsplit

import requests
from django.conf import settings

from controlplane.alerts.messages import Message

USER_AGENT = "Flowyard-Alerts/1"


class DeliveryError(Exception):
    """One attempt failed; the text names the destination by host only (URLs and addresses can hold secrets)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Sender(abc.ABC):
    """Delivers a message to one kind of channel; raises DeliveryError when the channel did not accept it."""

    @abc.abstractmethod
    def send(self, *, target: str, secret: str, message: Message, delivery_id: str, event: str) -> int | None:
        """Send `message` to `target` (addresses or URL); the HTTP status the channel answered, if any."""

    @classmethod
    def check_target(cls, target: str) -> str:
        """The target cleaned up, or ValueError saying what is wrong with it (shown to the person setting it)."""
        return target


def host_of(url: str) -> str:
    """The host (and port) of a URL: all an error or a hint may show of it."""
    return urlsplit(url).netloc.rpartition("@")[2] or "?"


def check_http_url(url: str) -> str:
    """`url` if it is an absolute http(s) URL with a host; else ValueError saying so."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Give an absolute http:// or https:// URL.")
    return url


class HttpSender(Sender):
    """A sender whose target is an http(s) URL it POSTs JSON to."""

    @classmethod
    def check_target(cls, target: str) -> str:
        """The URL, if it is an absolute http(s) URL with a host."""
        return check_http_url(target)


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` as JSON; the status code on a 2xx answer, else DeliveryError (redirects are not followed)."""
    timeout = settings.FLOWYARD.alert_timeout_seconds
    try:
        response = requests.post(
            url, data=body, timeout=(min(3.0, timeout), timeout), allow_redirects=False,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
    except requests.Timeout:
        raise DeliveryError(f"{host_of(url)} did not answer within {timeout:.0f} s") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"could not reach {host_of(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"{host_of(url)} answered {response.status_code}", status_code=response.status_code)
    return response.status_code


SENDERS = {
    "email": "controlplane.alerts.senders.email.EmailSender",
    "slack": "controlplane.alerts.senders.slack.SlackSender",
    "webhook": "controlplane.alerts.senders.webhook.WebhookSender",
}


def sender_for(kind: str) -> type[Sender]:
    """The sender class of a channel kind."""
    module, _, name = SENDERS[kind].rpartition(".")
    return getattr(importlib.import_module(module), name)
