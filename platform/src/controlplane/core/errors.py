"""The error base every component derives from; the API renders each as {code, message, extra}."""

from __future__ import annotations

from typing import Any


class FlowyardError(Exception):
    """A refusal a user can act on: a stable code, a sentence that says the fix, and details."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


class ValidationFailed(FlowyardError):
    """Input that cannot be accepted; `extra["fields"]` maps each field to its problems."""

    code = "invalid"
    http_status = 400

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        summary = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
        super().__init__(message or f"Invalid input. {summary}", extra={"fields": fields})


class PermissionDenied(FlowyardError):
    """The caller can see the object but their role does not allow this action."""

    code = "permission_denied"
    http_status = 403


class NotFound(FlowyardError):
    """The named object does not exist, or belongs to a project the caller cannot see."""

    code = "not_found"
    http_status = 404
