"""Core models: the abstract bases every app uses and the audit log."""

from controlplane.core.models.audit import AuditEvent
from controlplane.core.models.base import TimestampedModel, UUIDModel

__all__ = ["AuditEvent", "TimestampedModel", "UUIDModel"]
