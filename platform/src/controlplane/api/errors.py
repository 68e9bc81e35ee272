"""The one DRF exception handler: every error leaves the API as {"code", "message", "extra"}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from controlplane.api.refusals import record_ci_refusal
from controlplane.core.errors import FlowyardError
from controlplane.tenancy.principals import is_ci


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error details into {"field.sub": ["problem", ...]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "non_field_errors" if key in ("__all__", "non_field_errors") and not prefix else f"{prefix}{key}"
            flat.update(flatten_errors(value, f"{name}."))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
        return {prefix.rstrip(".") or "non_field_errors": [str(item) for item in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_errors(item, f"{prefix}{index}."))
        return flat
    return {prefix.rstrip(".") or "non_field_errors": [str(detail)]}


def _body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra or {}}


def _validation_response(fields: dict[str, list[str]]) -> Response:
    summary = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
    return Response(_body("invalid", f"Invalid input. {summary}", {"fields": fields}), status=status.HTTP_400_BAD_REQUEST)


def flowyard_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render Flowyard, Django and DRF errors in the one shape clients can rely on."""
    if isinstance(exc, FlowyardError):
        request = context.get("request")
        if exc.http_status == status.HTTP_403_FORBIDDEN and request is not None and is_ci(request.user):
            record_ci_refusal(request, exc.message)
        return Response(_body(exc.code, exc.message, exc.extra), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return _validation_response(flatten_errors(detail))
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return _validation_response(flatten_errors(detail))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected errors propagate: Django logs them and answers 500
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        response.data = _body(code, message)
    return response
