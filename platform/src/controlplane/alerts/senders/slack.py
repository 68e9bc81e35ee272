"""Slack-compatible incoming webhooks: `{"text": ...}`, which Slack, Mattermost and Teams connectors accept."""

from __future__ import annotations

import json

from typing_extensions import override

from controlplane.alerts.messages import Message
from controlplane.alerts.senders.base import HttpSender, post_json


def slack_payload(message: Message) -> dict:
    """The incoming-webhook body: the title in bold, the text as a code-free block, and the link."""
    text = f"*{message.title}*\n{message.text}"
    if message.link and message.link not in message.text:
        text += f"\n<{message.link}|Open in Flowyard>"
    return {"text": text}


class SlackSender(HttpSender):
    """Posts the message to the channel's incoming-webhook URL."""

    @override
    def send(self, *, target: str, secret: str, message: Message, delivery_id: str, event: str) -> int | None:
        body = json.dumps(slack_payload(message)).encode()
        return post_json(target, body, {"X-Flowyard-Delivery": delivery_id})
