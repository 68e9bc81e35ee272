"""Forge webhook deliveries: verified, kept once per delivery id, then applied (`gitops.promotions`).

GitLab sends the link's secret as `X-Gitlab-Token` (compared in constant time); GitHub signs the raw body:
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. A body over `MAX_BODY_BYTES` is refused (413)
before anything else; a wrong or missing token or signature is refused (401) with nothing stored; a delivery id
seen before (`X-Gitlab-Event-UUID`, `X-GitHub-Delivery`) answers 200 and changes nothing; an event that is not
about a merge request is kept as ignored (202). Nothing here logs a secret, a token or a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from controlplane.gitops.errors import DeliveryMalformed, DeliveryTooLarge, DeliveryUnauthenticated
from controlplane.gitops.events import EventError, Kind, read_event
from controlplane.gitops.models import DeliveryOutcome, Forge, ForgeDelivery, RepositoryLink
from controlplane.gitops.promotions import apply_event
from controlplane.gitops.secrets import decrypt_secret

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
DELIVERY_HEADER = {Forge.GITLAB: "X-Gitlab-Event-UUID", Forge.GITHUB: "X-GitHub-Delivery"}
EVENT_HEADER = {Forge.GITLAB: "X-Gitlab-Event", Forge.GITHUB: "X-GitHub-Event"}
SECRET_HEADERS = {"x-gitlab-token", "x-hub-signature", "x-hub-signature-256", "authorization", "cookie"}
KEPT_HEADERS = ("X-Gitlab-Event", "X-Gitlab-Event-UUID", "X-Gitlab-Instance", "X-GitHub-Event", "X-GitHub-Delivery",
                "X-GitHub-Hook-ID", "User-Agent", "Content-Type", "Content-Length")


def github_signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(link: RepositoryLink, headers: Mapping[str, str], body: bytes) -> None:
    """Raise DeliveryUnauthenticated unless the delivery carries the link's secret (GitLab) or signature (GitHub)."""
    secret = decrypt_secret(link.encrypted_webhook_secret)
    if link.forge == Forge.GITLAB:
        given = headers.get("X-Gitlab-Token", "")
        if not given or not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            raise DeliveryUnauthenticated("X-Gitlab-Token is missing or is not this link's webhook secret.")
        return
    given = headers.get("X-Hub-Signature-256", "")
    if not given or not hmac.compare_digest(given.encode("utf-8"), github_signature(secret, body).encode("utf-8")):
        raise DeliveryUnauthenticated("X-Hub-Signature-256 is missing or does not match the body signed with this "
                                      "link's webhook secret.")


@dataclass(frozen=True)
class Receipt:
    """What the receiver answers: the HTTP status, and the delivery as kept."""

    status: int
    delivery: ForgeDelivery
    replay: bool = False


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers and name.lower() not in SECRET_HEADERS}


def check_body_size(length: int | str | None) -> None:
    """Refuse (413) a body over MAX_BODY_BYTES; `length` may be the Content-Length header, before the body is read
    (an unreadable header counts as unknown: the body's own length is checked once read)."""
    try:
        size = int(length or 0)
    except ValueError:
        size = 0
    if size > MAX_BODY_BYTES:
        raise DeliveryTooLarge(f"The body is {size} bytes, over {MAX_BODY_BYTES}; a forge's merge-request event is "
                               "smaller.", extra={"max_bytes": MAX_BODY_BYTES})


def delivery_receive(*, link: RepositoryLink, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Check, keep and apply one delivery to `link` (see the module's docstring for the answers)."""
    check_body_size(len(body))
    verify(link, headers, body)
    forge = Forge(link.forge)
    delivery_id = headers.get(DELIVERY_HEADER[forge], "").strip()
    if not delivery_id or len(delivery_id) > 255:
        raise DeliveryMalformed(f"{DELIVERY_HEADER[forge]} is missing: every {forge.value} delivery has one.")
    try:
        payload = json.loads(body)
        event = read_event(forge, headers.get(EVENT_HEADER[forge], ""), payload)
    except (ValueError, EventError) as exc:
        raise DeliveryMalformed(f"The payload cannot be read: {exc}.") from None
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = ForgeDelivery.objects.create(
                    link=link, delivery_id=delivery_id, event=event.name, action=event.action,
                    headers=_kept_headers(headers),
                    outcome=DeliveryOutcome.IGNORED if event.kind is Kind.OTHER else DeliveryOutcome.PROCESSED)
        except IntegrityError:
            return Receipt(200, ForgeDelivery.objects.get(link=link, delivery_id=delivery_id), replay=True)
        if event.kind is Kind.OTHER:
            delivery.detail = f"{event.name} {event.action}".strip() + " is not a merge-request event Flowyard uses"
            delivery.save(update_fields=["detail"])
            return Receipt(202, delivery)
        delivery.detail = apply_event(link=link, event=event)
        delivery.save(update_fields=["detail"])
    return Receipt(200, delivery)
