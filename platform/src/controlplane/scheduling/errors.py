"""Errors raised by scheduling services: backfills and webhooks (one base, rendered by the API's one handler)."""

from controlplane.core.errors import FlowyardError


class SchedulingError(FlowyardError):
    """Base of every scheduling refusal."""

    code = "scheduling_error"


class BackfillEnded(SchedulingError):
    """The backfill already completed; there is nothing left to cancel."""

    code = "backfill_ended"
    http_status = 409


class WebhookExists(SchedulingError):
    """The deployment already has a webhook: rotate its secret instead."""

    code = "webhook_exists"
    http_status = 409


class WebhookUndecryptable(SchedulingError):
    """The stored secret cannot be decrypted (the installation's secret key changed): rotate it."""

    code = "webhook_secret_undecryptable"
    http_status = 500


class WebhookUnauthenticated(SchedulingError):
    """The delivery carries no credential at all."""

    code = "webhook_unauthenticated"
    http_status = 401


class WebhookSignatureInvalid(SchedulingError):
    """The bearer token or the signature does not match the webhook's secret."""

    code = "webhook_signature_invalid"
    http_status = 401


class WebhookTimestampInvalid(SchedulingError):
    """The signature's timestamp is missing, malformed or outside the replay window."""

    code = "webhook_timestamp_invalid"
    http_status = 401


class WebhookBodyTooLarge(SchedulingError):
    """The delivery's body is larger than MAX_BODY_BYTES."""

    code = "webhook_body_too_large"
    http_status = 413


class IdempotencyKeyReused(SchedulingError):
    """An idempotency key already used with a different body."""

    code = "idempotency_key_reused"
    http_status = 409
