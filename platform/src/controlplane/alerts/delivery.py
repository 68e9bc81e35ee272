"""Delivering: claim a due delivery (rate limit, lease), send it outside any transaction, record the attempt,
then mark it sent, schedule its retry with backoff, or fail it; fold what the rate limit held into a digest.

Every step re-reads the rows under a lock, so a redelivered or duplicated task message does nothing: a
delivery that is not PENDING, or whose `next_attempt_at` is still ahead (a retry's time, or another worker's
lease while it sends), is left alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.alerts.messages import Message, digest_message
from controlplane.alerts.models import Channel, Delivery, DeliveryAttempt, DeliveryState
from controlplane.alerts.queue import enqueue_delivery, enqueue_digest
from controlplane.alerts.senders import DeliveryError, sender_for
from controlplane.core.encryption import decrypt_text

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
LEASE_MARGIN_SECONDS = 30.0


def backoff_seconds(attempts_made: int) -> float:
    """Delay before the next attempt: FLOWYARD_ALERT_RETRY_SECONDS doubled per attempt made, at most an hour."""
    return min(settings.FLOWYARD.alert_retry_seconds * 2 ** max(0, attempts_made - 1), MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class Claim:
    """A delivery a worker may send now: what to send, where, and which attempt this is."""

    delivery_id: Any
    attempt: int
    kind: str
    target: str
    secret: str
    event: str
    message: Message


def delivery_claim(delivery_id: Any) -> Claim | None:
    """Take the delivery for one attempt, or None when it is not due, not pending, or held by the rate limit."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state != DeliveryState.PENDING:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None  # a retry not yet due, or another worker sending it now (its lease)
        channel = Channel.objects.select_for_update().get(pk=delivery.channel_id)
        if delivery.claimed_at is None:
            if _over_rate_limit(channel, now):
                _hold(delivery, channel, now)
                return None
            delivery.claimed_at = now
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=settings.FLOWYARD.alert_timeout_seconds + LEASE_MARGIN_SECONDS)
        delivery.save(update_fields=["claimed_at", "attempts", "next_attempt_at", "updated_at"])
    target = decrypt_text(channel.encrypted_target)
    secret = decrypt_text(channel.encrypted_secret) if channel.encrypted_secret else ""
    if target is None or secret is None:
        _record(delivery.pk, delivery.attempts, ok=False, status_code=None, duration_ms=0, final=True,
                error="the channel's address or secret cannot be decrypted (FLOWYARD_SECRET_KEY changed?); set them "
                      "again")
        return None
    return Claim(delivery.pk, delivery.attempts, channel.kind, target, secret,
                 delivery.alert.event if delivery.alert_id else "digest", _message_of(delivery, channel))


def _over_rate_limit(channel: Channel, now) -> bool:
    window_start = now - timedelta(seconds=channel.rate_limit_seconds)
    sent_in_window = Delivery.objects.filter(channel=channel, claimed_at__gte=window_start).count()
    return sent_in_window >= channel.rate_limit_count


def _hold(delivery: Delivery, channel: Channel, now) -> None:
    """Hold the delivery for the channel's digest, due when the oldest message of the window leaves it."""
    delivery.state = DeliveryState.HELD
    delivery.save(update_fields=["state", "updated_at"])
    if channel.digest_due_at is None:
        window = timedelta(seconds=channel.rate_limit_seconds)
        oldest = (Delivery.objects.filter(channel=channel, claimed_at__gte=now - window)
                  .order_by("claimed_at").values_list("claimed_at", flat=True).first())
        channel.digest_due_at = (oldest or now) + window
        channel.save(update_fields=["digest_due_at", "updated_at"])
        countdown = (channel.digest_due_at - now).total_seconds()
        transaction.on_commit(lambda: enqueue_digest(channel.pk, countdown=countdown))
    logger.info("delivery %s held by channel %s's rate limit", delivery.pk, channel.pk)


def _message_of(delivery: Delivery, channel: Channel) -> Message:
    if delivery.alert_id:
        alert = delivery.alert
        return Message(title=alert.title, text=alert.text, link=alert.link, details=alert.details)
    folded = delivery.folded.select_related("alert").order_by("created_at")
    return digest_message([(item.alert.title, item.alert.link) for item in folded], channel_name=channel.name)


def delivery_attempt(delivery_id: Any) -> None:
    """Claim, send and record one attempt of a delivery (the Celery task's body)."""
    claim = delivery_claim(delivery_id)
    if claim is None:
        return
    started = time.monotonic()
    try:
        status_code = sender_for(claim.kind)().send(
            target=claim.target, secret=claim.secret, message=claim.message, delivery_id=str(claim.delivery_id),
            event=claim.event)
    except DeliveryError as exc:
        final = claim.attempt >= settings.FLOWYARD.alert_max_attempts
        _record(claim.delivery_id, claim.attempt, ok=False, status_code=exc.status_code, error=str(exc),
                duration_ms=_ms_since(started), final=final)
        return
    _record(claim.delivery_id, claim.attempt, ok=True, status_code=status_code, error="",
            duration_ms=_ms_since(started), final=True)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@transaction.atomic
def _record(delivery_id: Any, attempt: int, *, ok: bool, status_code: int | None, error: str, duration_ms: int,
            final: bool) -> None:
    """Store the attempt and the delivery's new state; a retry is enqueued on commit with its backoff."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
    DeliveryAttempt.objects.get_or_create(delivery=delivery, number=attempt, defaults={
        "ok": ok, "status_code": status_code, "error": error[:2000], "duration_ms": duration_ms})
    now = timezone.now()
    if ok:
        delivery.state, delivery.sent_at, delivery.last_error, delivery.next_attempt_at = DeliveryState.SENT, now, "", None
    elif final:
        delivery.state, delivery.last_error, delivery.next_attempt_at = DeliveryState.FAILED, error, None
        logger.warning("delivery %s failed after %s attempts: %s", delivery.pk, attempt, error)
    else:
        delay = backoff_seconds(attempt)
        delivery.last_error, delivery.next_attempt_at = error, now + timedelta(seconds=delay)
        transaction.on_commit(lambda: enqueue_delivery(delivery_id, countdown=delay))
    delivery.save(update_fields=["state", "sent_at", "last_error", "next_attempt_at", "updated_at"])


def digest_send(channel_id: Any) -> Delivery | None:
    """Fold the channel's held deliveries into one digest delivery, if its digest is due, and enqueue it."""
    now = timezone.now()
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
        if channel is None or channel.digest_due_at is None or channel.digest_due_at > now:
            return None  # sent already, or not yet due (an early or duplicated message)
        held = list(Delivery.objects.select_for_update().filter(channel=channel, state=DeliveryState.HELD))
        channel.digest_due_at = None
        channel.save(update_fields=["digest_due_at", "updated_at"])
        if not held:
            return None
        digest = Delivery.objects.create(channel=channel, claimed_at=now)
        Delivery.objects.filter(pk__in=[item.pk for item in held]).update(
            state=DeliveryState.DIGESTED, folded_into=digest, updated_at=now)
        transaction.on_commit(lambda: enqueue_delivery(digest.pk))
    return digest


def deliveries_sweep(*, grace_seconds: float = 60.0) -> int:
    """Enqueue again what a lost message or a broker outage left behind: pending deliveries past their time and
    digests past due. Returns how many tasks were sent."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    overdue = list(Delivery.objects.filter(state=DeliveryState.PENDING, created_at__lt=cutoff)
                   .exclude(next_attempt_at__gt=cutoff).values_list("pk", flat=True)[:1000])
    for delivery_id in overdue:
        enqueue_delivery(delivery_id)
    digests = list(Channel.objects.filter(digest_due_at__lt=cutoff).values_list("pk", flat=True))
    for channel_id in digests:
        enqueue_digest(channel_id)
    return len(overdue) + len(digests)
