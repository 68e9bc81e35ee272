"""Core models: the abstract bases every app uses, the audit log and the installation."""

from controlplane.core.models.audit import AuditEvent
from controlplane.core.models.base import TimestampedModel, UUIDModel
from controlplane.core.models.installation import Installation

__all__ = ["AuditEvent", "Installation", "TimestampedModel", "UUIDModel"]
