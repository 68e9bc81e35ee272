"""Flow parameters checked against the function's type hints, with strings coerced (from CLI or config)."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from flowyard.errors import ParameterError

_INT = re.compile(r"[+-]?\d+")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class _Mismatch(Exception):
    """The value does not fit the hint (internal)."""


def type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's resolved type hints; annotations that cannot be resolved are left out."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - a forward reference we cannot resolve: fall back per annotation
        hints = {}
        for name, annotation in getattr(fn, "__annotations__", {}).items():
            if not isinstance(annotation, str):
                hints[name] = annotation
                continue
            try:
                hints[name] = eval(annotation, getattr(fn, "__globals__", {}))  # noqa: S307 - the author's own code
            except Exception:  # noqa: BLE001
                pass
        return hints


def type_name(hint: Any) -> str:
    """A readable name for a type hint (`int`, `list[int]`, `int | None`)."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "")


def validate_parameters(fn: Callable[..., Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Bind `given` to `fn`'s signature: unknown, missing and mistyped parameters raise ParameterError."""
    signature = inspect.signature(fn)
    hints = type_hints(fn)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    named = {name: p for name, p in signature.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    for name in given:
        if name not in named and not accepts_any:
            allowed = ", ".join(named) or "none"
            raise ParameterError(name, f"the flow has no such parameter (it takes: {allowed})")
    result: dict[str, Any] = {}
    for name, parameter in named.items():
        if name in given:
            result[name] = conform(name, given[name], hints.get(name, Any))
        elif parameter.default is inspect.Parameter.empty:
            raise ParameterError(name, "is required and was not given")
    for name, value in given.items():
        if name not in named:
            result[name] = value
    return result


def conform(name: str, value: Any, hint: Any) -> Any:
    """`value` checked against `hint`, strings coerced where the hint asks for another type."""
    try:
        return _conform(value, hint)
    except _Mismatch:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ParameterError(name, f"expected {type_name(hint)}, got {type(value).__name__} {shown}") from None


def _conform(value: Any, hint: Any) -> Any:  # noqa: C901 - one branch per kind of hint
    if hint is Any or hint is inspect.Parameter.empty or isinstance(hint, (typing.TypeVar, str)):
        return value
    if hint is None or hint is type(None):
        if value is None:
            return None
        raise _Mismatch
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return _conform(value, args[0])
    if origin is typing.Union or origin is types.UnionType:
        for option in args:  # an exact fit first, so that "1" stays a str for `str | int`
            if _fits_exactly(value, option):
                return value
        for option in args:
            try:
                return _conform(value, option)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        for option in args:
            if value == option and type(value) is type(option):
                return value
            if isinstance(value, str) and not isinstance(option, str):
                try:
                    if _conform(value, type(option)) == option:
                        return option
                except _Mismatch:
                    continue
        raise _Mismatch
    if origin in (list, tuple, set, frozenset, dict) or hint in (list, tuple, set, frozenset, dict):
        return _conform_collection(value, origin or hint, args)
    if origin is not None and isinstance(origin, type):
        return _conform(value, origin)
    if not isinstance(hint, type):
        return value
    return _conform_scalar(value, hint)


def _fits_exactly(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if isinstance(hint, type) and not typing.get_args(hint):
        if hint is int and isinstance(value, bool):
            return False
        return isinstance(value, hint)
    return False


def _conform_scalar(value: Any, hint: type) -> Any:  # noqa: C901 - one branch per scalar type
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value.strip())
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if hint is Decimal:
        if isinstance(value, (int, float, str, Decimal)) and not isinstance(value, bool):
            try:
                return Decimal(str(value))
            except InvalidOperation:
                raise _Mismatch from None
        raise _Mismatch
    if hint is datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if hint is date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if hint is time:
        if isinstance(value, time):
            return value
        if isinstance(value, str):
            try:
                return time.fromisoformat(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if issubclass(hint, Enum):
        if isinstance(value, hint):
            return value
        for member in hint:
            if value == member.value or (isinstance(value, str) and (value == member.name or value == str(member.value))):
                return member
        raise _Mismatch
    if hint in (Path, PurePath) and isinstance(value, (str, PurePath)):
        return Path(value)
    if isinstance(value, hint):
        return value
    raise _Mismatch


def _conform_collection(value: Any, kind: type, args: tuple[Any, ...]) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Mismatch from None
    if kind is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        if len(args) != 2:
            return value
        return {_conform(k, args[0]): _conform(v, args[1]) for k, v in value.items()}
    if not isinstance(value, (list, tuple, set, frozenset)) or (kind is not list and isinstance(value, dict)):
        raise _Mismatch
    if kind is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_conform(item, args[0]) for item in value)
        if args:
            if len(args) != len(value):
                raise _Mismatch
            return tuple(_conform(item, hint) for item, hint in zip(value, args))
        return tuple(value)
    items = [_conform(item, args[0]) for item in value] if args else list(value)
    return kind(items) if kind is not list else items
