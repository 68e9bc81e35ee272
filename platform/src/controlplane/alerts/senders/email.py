"""E-mail channels: plain-text messages through the SMTP server FLOWYARD_SMTP_* names (Django's e-mail backend)."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.core.exceptions import ValidationError
from typing_extensions import override

from controlplane.alerts.messages import Message
from controlplane.alerts.senders.base import DeliveryError, Sender

MAX_ADDRESSES = 50


def addresses(target: str) -> list[str]:
    """The addresses of a comma- or space-separated list."""
    return [part for part in target.replace(",", " ").split() if part]


class EmailSender(Sender):
    """Sends one e-mail to every address of the channel."""

    @override
    @classmethod
    def check_target(cls, target: str) -> str:
        found = addresses(target)
        if not found:
            raise ValueError("Give one or more e-mail addresses, separated by commas.")
        if len(found) > MAX_ADDRESSES:
            raise ValueError(f"At most {MAX_ADDRESSES} addresses per channel.")
        for address in found:
            try:
                validate_email(address)
            except ValidationError:
                raise ValueError(f"{address!r} is not an e-mail address.") from None
        return ", ".join(found)

    @override
    def send(self, *, target: str, secret: str, message: Message, delivery_id: str, event: str) -> int | None:
        if not settings.EMAIL_HOST:
            raise DeliveryError("no SMTP server is configured: set FLOWYARD_SMTP_HOST (and FLOWYARD_SMTP_PORT)")
        body = message.text
        email = EmailMessage(subject=message.title, body=body, to=addresses(target),
                             headers={"X-Flowyard-Delivery": delivery_id, "X-Flowyard-Event": event},
                             connection=get_connection(timeout=settings.FLOWYARD.alert_timeout_seconds))
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"the SMTP server answered {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("the SMTP server refused every recipient") from None
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise DeliveryError(f"could not reach the SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: "
                                f"{type(exc).__name__}") from None
        return None
