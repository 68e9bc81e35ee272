"""Recording audit events: every service that writes calls `audit_record` in its transaction."""

from __future__ import annotations

import datetime
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import models

from controlplane.core.models import AuditEvent

# Fields never copied into an audit snapshot, whatever the model.
SECRET_FIELDS = frozenset({
    "password", "token_hash", "secret", "value", "encrypted_value", "encrypted_secret", "encrypted_target",
})


@dataclass(frozen=True)
class SystemActor:
    """A part of Flowyard acting on its own (the scheduler, a webhook, an upstream run), named in the audit log."""

    audit_label: str


def _json_safe(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    return value


def snapshot(obj: models.Model | None) -> dict[str, Any] | None:
    """A JSON-safe copy of a model's concrete fields (foreign keys as ids), secrets left out."""
    if obj is None:
        return None
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            continue
        data[field.attname] = _json_safe(getattr(obj, field.attname))
    return data


def actor_user_and_label(actor: Any) -> tuple[Any, str]:
    """The user to link (None for non-user principals) and the label to record for any actor."""
    if actor is None:
        return None, "system"
    label = getattr(actor, "audit_label", None)
    if label is not None:  # a non-user principal such as a CI token
        return None, label
    return actor, actor.get_username()


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    project: models.Model | None = None,
    team: models.Model | None = None,
) -> AuditEvent:
    """Write one audit event for a write `action` on `obj`, scoped to its project and team."""
    user, label = actor_user_and_label(actor)
    team_id = team.pk if team is not None else getattr(project, "team_id", None)  # the project's, without reading it
    return AuditEvent.objects.create(
        actor=user,
        actor_label=label[:200],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        team_id=team_id,
        project=project,
        before=before,
        after=after,
    )


def audit_note(
    *, actor: Any, action: str, object_type: str, object_id: str, object_repr: str, after: dict[str, Any] | None = None
) -> AuditEvent:
    """Record an event about something that is not a stored object (e.g. a refused sign-in by nobody we know)."""
    user, label = actor_user_and_label(actor)
    return AuditEvent.objects.create(
        actor=user, actor_label=label[:200], action=action, object_type=object_type[:100], object_id=object_id[:64],
        object_repr=object_repr[:200], after=after,
    )
