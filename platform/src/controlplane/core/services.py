"""Write helpers shared by every app's services."""

from __future__ import annotations

from typing import Any

from django.db import models

from controlplane.core.audit import audit_record, snapshot


def model_update(
    *, actor: Any, obj: models.Model, changes: dict[str, Any], action: str, project: Any = None, team: Any = None
) -> models.Model:
    """Apply `changes` to `obj`, validate it (field validators and constraints), save, and audit before/after."""
    before = snapshot(obj)
    for field, value in changes.items():
        setattr(obj, field, value)
    obj.full_clean()
    obj.save()
    audit_record(actor=actor, action=action, obj=obj, before=before, after=snapshot(obj), project=project, team=team)
    return obj
