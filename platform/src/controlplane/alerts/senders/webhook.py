"""Generic webhooks: the alert as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>" (docs/alerts.md).

Receivers verify `X-Flowyard-Signature: sha256=<hex>` with the channel's secret, and refuse a
`X-Flowyard-Timestamp` too far from their clock; the scheme is the one Flowyard's own webhook triggers verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.utils import timezone
from typing_extensions import override

from controlplane.alerts.messages import Message
from controlplane.alerts.senders.base import HttpSender, post_json

SIGNATURE_HEADER = "X-Flowyard-Signature"
TIMESTAMP_HEADER = "X-Flowyard-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(message: Message, *, delivery_id: str, event: str) -> bytes:
    """The JSON the webhook receives."""
    return json.dumps({
        "event": event, "delivery": delivery_id, "sent_at": timezone.now().isoformat(),
        "title": message.title, "text": message.text, "link": message.link, **message.details,
    }, sort_keys=True).encode()


class WebhookSender(HttpSender):
    """Posts the alert as signed JSON."""

    @override
    def send(self, *, target: str, secret: str, message: Message, delivery_id: str, event: str) -> int | None:
        body = webhook_body(message, delivery_id=delivery_id, event=event)
        timestamp = str(int(time.time()))
        return post_json(target, body, {
            SIGNATURE_HEADER: signature(secret, timestamp, body), TIMESTAMP_HEADER: timestamp,
            "X-Flowyard-Delivery": delivery_id, "X-Flowyard-Event": event,
        })
