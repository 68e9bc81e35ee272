"""Deployment webhooks: create, rotate, enable/disable and delete them, and verify and apply a delivery.

A webhook's secret is made here, shown once (in the create or rotate answer) and stored only as a Fernet token,
with the same cipher as environment secrets (`controlplane.deployments.secrets`). A delivery proves it knows the
secret in one of two ways:

- `Authorization: Bearer <secret>`, or
- `X-Flowyard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with `X-Flowyard-Timestamp:
  <unix seconds>` no further than `REPLAY_WINDOW_SECONDS` from the control plane's clock.

A webhook may map its delivery's body to parameters (`parameter_mapping`, see
`controlplane.scheduling.payload_mapping`): the body is then an event payload (a GitLab push, a GitHub release)
whose mapped values become the run's parameters; without a mapping the body is the parameter overrides.

Every comparison is constant-time. Nothing here logs, audits or puts into an error message the secret, a
signature or a bearer token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets as token_generator
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from controlplane.core.audit import SystemActor, actor_user_and_label, audit_record, snapshot
from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment
from controlplane.deployments.secrets import encrypt_value, secret_cipher
from controlplane.runs.models import Run
from controlplane.runs.services import declared_parameters, run_trigger
from controlplane.scheduling.errors import (
    IdempotencyKeyReused,
    WebhookBodyTooLarge,
    WebhookExists,
    WebhookSignatureInvalid,
    WebhookTimestampInvalid,
    WebhookUnauthenticated,
    WebhookUndecryptable,
)
from controlplane.scheduling.models import DeploymentWebhook, WebhookDelivery
from controlplane.scheduling.payload_mapping import FIELD as MAPPING_FIELD
from controlplane.scheduling.payload_mapping import apply_mapping, check_mapping
from controlplane.tenancy.selectors import project_list
from flowyard_spec.states import TriggerKind

logger = logging.getLogger(__name__)

SECRET_PREFIX = "fyw_"
REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255
SIGNATURE_HEADER = "X-Flowyard-Signature"
TIMESTAMP_HEADER = "X-Flowyard-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_SCHEME = "sha256="


# -- secrets -------------------------------------------------------------------------------------------------
def new_secret() -> str:
    """A fresh webhook secret: `fyw_` and 43 url-safe characters (256 bits)."""
    return SECRET_PREFIX + token_generator.token_urlsafe(32)


def webhook_secret(webhook: DeploymentWebhook) -> str:
    """The clear secret of `webhook`, to verify a delivery. Never log or return it."""
    try:
        return secret_cipher().decrypt(webhook.encrypted_secret.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise WebhookUndecryptable(
            f"The secret of webhook {webhook.pk} cannot be decrypted: the installation's secret key changed since it "
            "was made. A developer of the project must rotate it (POST /api/v1/webhooks/{id}/rotate/).",
            extra={"webhook": str(webhook.pk)},
        ) from None


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Flowyard-Signature value for `body` sent at `timestamp`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_SCHEME + digest.hexdigest()


# -- reads ---------------------------------------------------------------------------------------------------
def webhook_list(*, user: object) -> QuerySet[DeploymentWebhook]:
    """Webhooks of the deployments of projects the user can see (without the ciphertext)."""
    return (
        DeploymentWebhook.objects.filter(deployment__environment__project__in=project_list(user=user))
        .select_related("deployment__workflow", "deployment__environment__project")
        .defer("encrypted_secret")
    )


# -- management ----------------------------------------------------------------------------------------------
def validate_parameter_mapping(deployment: Deployment, mapping: Any) -> dict[str, str]:
    """`mapping` checked against the parameters `deployment`'s version declares; ValidationFailed (400) otherwise."""
    if not mapping:
        return {}
    if deployment.version is None:
        raise ValidationFailed({MAPPING_FIELD: [
            f"Nothing is deployed to {deployment}, so its parameters are not known yet; deploy a version first, "
            "then set the mapping."
        ]})
    check_mapping(mapping, declared_parameters(deployment))
    return dict(mapping)


@transaction.atomic
def webhook_create(
    *, actor: Any, deployment: Deployment, parameter_mapping: dict[str, str] | None = None
) -> tuple[DeploymentWebhook, str]:
    """Give `deployment` a webhook; returns it and its secret (shown this once). Audited as `webhook.created`."""
    _, label = actor_user_and_label(actor)
    mapping = validate_parameter_mapping(deployment, parameter_mapping)
    secret = new_secret()
    try:
        with transaction.atomic():
            webhook = DeploymentWebhook.objects.create(
                deployment=deployment, encrypted_secret=encrypt_value(secret), created_by_label=label[:200],
                parameter_mapping=mapping,
            )
    except IntegrityError:
        existing = DeploymentWebhook.objects.filter(deployment=deployment).values_list("pk", flat=True).first()
        raise WebhookExists(
            f"{deployment} already has a webhook; rotate its secret (POST /api/v1/webhooks/{existing}/rotate/) or "
            "delete it first.",
            extra={"webhook": str(existing)},
        ) from None
    audit_record(
        actor=actor, action="webhook.created", obj=webhook, after=snapshot(webhook),
        project=deployment.environment.project,
    )
    return webhook, secret


@transaction.atomic
def webhook_rotate(*, actor: Any, webhook: DeploymentWebhook) -> tuple[DeploymentWebhook, str]:
    """Replace the webhook's secret: the old one stops working at once. Audited as `webhook.rotated` (no secret)."""
    webhook = DeploymentWebhook.objects.select_for_update().get(pk=webhook.pk)
    secret = new_secret()
    webhook.encrypted_secret = encrypt_value(secret)
    webhook.save(update_fields=["encrypted_secret", "updated_at"])
    audit_record(
        actor=actor, action="webhook.rotated", obj=webhook, after=snapshot(webhook),
        project=webhook.deployment.environment.project,
    )
    return webhook, secret


@transaction.atomic
def webhook_update(
    *, actor: Any, webhook: DeploymentWebhook, is_enabled: bool | None = None,
    parameter_mapping: dict[str, str] | None = None,
) -> DeploymentWebhook:
    """Enable or disable the webhook (a disabled one answers 404 and starts nothing) or replace its parameter
    mapping ({} removes it); audited as `webhook.updated`."""
    webhook = DeploymentWebhook.objects.select_for_update().get(pk=webhook.pk)
    changes: dict[str, Any] = {}
    if is_enabled is not None and is_enabled != webhook.is_enabled:
        changes["is_enabled"] = is_enabled
    if parameter_mapping is not None:
        mapping = validate_parameter_mapping(webhook.deployment, parameter_mapping)
        if mapping != webhook.parameter_mapping:
            changes["parameter_mapping"] = mapping
    if not changes:
        return webhook  # a write that changes nothing records nothing
    before = snapshot(webhook)
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor, action="webhook.updated", obj=webhook, before=before, after=snapshot(webhook),
        project=webhook.deployment.environment.project,
    )
    return webhook


@transaction.atomic
def webhook_delete(*, actor: Any, webhook: DeploymentWebhook) -> None:
    """Delete the webhook and its delivery records (runs stay); audited as `webhook.deleted`."""
    audit_record(
        actor=actor, action="webhook.deleted", obj=webhook, before=snapshot(webhook),
        project=webhook.deployment.environment.project,
    )
    webhook.delete()


# -- delivery ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryHeaders:
    """What a delivery says about itself; any value may be None when the header was not sent."""

    authorization: str | None = None
    signature: str | None = None
    timestamp: str | None = None
    idempotency_key: str | None = None
    content_length: str | None = None  # as sent, unparsed


@dataclass(frozen=True)
class DeliveryResult:
    """The run a delivery started, or the one an earlier delivery with the same idempotency key started."""

    run: Run | None
    replayed: bool


def webhook_for_delivery(webhook_id: Any) -> DeploymentWebhook | None:
    """The enabled webhook with this id, with its deployment; None when there is none (the API answers 404)."""
    return (
        DeploymentWebhook.objects.select_related("deployment__environment__project", "deployment__version")
        .filter(pk=webhook_id, is_enabled=True)
        .first()
    )


def check_body_size(length: int | str | None) -> None:
    """Refuse (413) a body of more than MAX_BODY_BYTES; `length` may be the Content-Length header, unread."""
    try:
        size = int(length or 0)
    except ValueError:
        size = 0
    if size > MAX_BODY_BYTES:
        raise WebhookBodyTooLarge(
            f"The body is {size} bytes; a webhook body is at most {MAX_BODY_BYTES} bytes (64 KiB).",
            extra={"max_bytes": MAX_BODY_BYTES},
        )


def verify_delivery(
    webhook: DeploymentWebhook, *, body: bytes, headers: DeliveryHeaders, now: float | None = None
) -> str:
    """Check the delivery's credential against the webhook's secret; returns how it proved it ("bearer"/"signature")."""
    if headers.authorization:
        scheme, _, token = headers.authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise WebhookUnauthenticated(
                "The Authorization header must be 'Bearer <webhook secret>'; or sign the body with "
                f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER}."
            )
        if not hmac.compare_digest(token.strip().encode("utf-8"), webhook_secret(webhook).encode("utf-8")):
            raise WebhookSignatureInvalid("The bearer token is not this webhook's secret.")
        return "bearer"
    if headers.signature:
        _check_timestamp(headers.timestamp, now=time.time() if now is None else now)
        expected = signature_for(webhook_secret(webhook), headers.timestamp.strip(), body)
        if not hmac.compare_digest(headers.signature.strip().lower().encode("utf-8"), expected.encode("ascii")):
            raise WebhookSignatureInvalid(
                f"{SIGNATURE_HEADER} does not match: it must be 'sha256=' and the hex HMAC-SHA256, keyed with the "
                f"webhook's secret, of the {TIMESTAMP_HEADER} value, a '.', and the raw body."
            )
        return "signature"
    raise WebhookUnauthenticated(
        f"This webhook needs its secret: send 'Authorization: Bearer <secret>', or sign the body with "
        f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER}."
    )


def _check_timestamp(value: str | None, *, now: float) -> None:
    if not value or not (value.strip().isascii() and value.strip().isdigit()):
        raise WebhookTimestampInvalid(
            f"A signed delivery needs {TIMESTAMP_HEADER}: the Unix time in whole seconds it was signed at.",
            extra={"header": TIMESTAMP_HEADER},
        )
    skew = int(value.strip()) - now
    if abs(skew) > REPLAY_WINDOW_SECONDS:
        raise WebhookTimestampInvalid(
            f"{TIMESTAMP_HEADER} is {abs(int(skew))} s {'ahead of' if skew > 0 else 'behind'} the control plane's "
            f"clock; it must be within {REPLAY_WINDOW_SECONDS} s. Sign each delivery when you send it.",
            extra={"header": TIMESTAMP_HEADER, "server_time": int(now), "window_seconds": REPLAY_WINDOW_SECONDS},
        )


def parse_body(body: bytes) -> dict[str, Any]:
    """A delivery's body: a JSON object of parameter overrides, or the event a mapping reads (empty body: {})."""
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeError):
        raise ValidationFailed(
            {"body": ['The body must be a JSON object: parameter overrides, e.g. {"date": "2026-11-01"}, or the '
                      "event the webhook's parameter mapping reads."]}
        ) from None
    if not isinstance(payload, dict):
        raise ValidationFailed(
            {"body": [f"The body must be a JSON object of parameter overrides, not a JSON {type(payload).__name__}."]}
        )
    return payload


def delivery_parameters(webhook: DeploymentWebhook, payload: dict[str, Any]) -> dict[str, Any]:
    """The parameters a delivery asks for: the body itself, or, when the webhook has a mapping, only the values
    the mapping takes from it (typed like the declared defaults; the rest of the body is ignored)."""
    if not webhook.parameter_mapping or webhook.deployment.version is None:
        return payload  # without a version, run_trigger answers 409 nothing_deployed
    return apply_mapping(webhook.parameter_mapping, payload, declared_parameters(webhook.deployment))


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            {IDEMPOTENCY_HEADER: [f"The key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters."]}
        )
    return key


def _body_hash(parameters: dict[str, Any]) -> str:
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@transaction.atomic
def webhook_deliver(
    *, webhook: DeploymentWebhook, body: bytes, headers: DeliveryHeaders, now: float | None = None
) -> DeliveryResult:
    """Verify a delivery and start one run with its parameters, honouring the idempotency key.

    Order: the credential (401), the body (400), the idempotency key (a replay answers the first run; the key with
    another body is refused, 409), the parameter mapping if any (400), then the run, validated like a manual
    trigger. A mapped delivery's key is compared by its whole body, not by the parameters taken from it. A run and
    its delivery record are created in one savepoint, so two concurrent deliveries with one key still make one run.
    """
    verify_delivery(webhook, body=body, headers=headers, now=now)
    payload = parse_body(body)
    key = _idempotency_key(headers.idempotency_key)
    actor = SystemActor(f"webhook:{webhook.pk}")
    if key is None:
        parameters = delivery_parameters(webhook, payload)
        run = run_trigger(
            actor=actor, deployment=webhook.deployment, parameters=parameters, trigger=TriggerKind.WEBHOOK
        )
        logger.info("webhook %s started run %s", webhook.pk, run.pk)
        return DeliveryResult(run=run, replayed=False)
    body_sha256 = _body_hash(payload)
    if (earlier := _earlier_delivery(webhook, key, body_sha256)) is not None:
        return earlier
    parameters = delivery_parameters(webhook, payload)
    try:
        with transaction.atomic():
            run = run_trigger(
                actor=actor, deployment=webhook.deployment, parameters=parameters, trigger=TriggerKind.WEBHOOK
            )
            WebhookDelivery.objects.create(webhook=webhook, idempotency_key=key, body_sha256=body_sha256, run=run)
    except IntegrityError:  # a concurrent delivery with the same key committed first: answer with its run
        earlier = _earlier_delivery(webhook, key, body_sha256)
        if earlier is None:
            raise
        return earlier
    logger.info("webhook %s started run %s (with an idempotency key)", webhook.pk, run.pk)
    return DeliveryResult(run=run, replayed=False)


def _earlier_delivery(webhook: DeploymentWebhook, key: str, body_sha256: str) -> DeliveryResult | None:
    delivery = WebhookDelivery.objects.select_related("run").filter(webhook=webhook, idempotency_key=key).first()
    if delivery is None:
        return None
    if not hmac.compare_digest(delivery.body_sha256, body_sha256):
        raise IdempotencyKeyReused(
            f"This {IDEMPOTENCY_HEADER} was first sent with another body; use a new key for a new request.",
            extra={"run": str(delivery.run_id) if delivery.run_id else None},
        )
    logger.info("webhook %s replayed delivery of run %s", webhook.pk, delivery.run_id)
    return DeliveryResult(run=delivery.run, replayed=True)
