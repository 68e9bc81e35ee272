"""Webhook payload mapping: a workflow's parameters taken from a delivery's JSON body, typed like their defaults.

A webhook's `parameter_mapping` is `{"<parameter>": "<value source>"}`. A source is either

- a JSON pointer (RFC 6901): `/object_attributes/iid`, `/commits/0/id`, `/a~1b` for the key `a/b`, `/m~0n` for
  the key `m~n`; the value there is taken as it is, then typed; or
- a template: text with `{{ /pointer }}` placeholders, e.g. `branch-{{ /ref }}`; each placeholder is replaced
  by the text of a string, number or boolean found there, and the result is a string (then typed).

A source is a template when it contains `{{`, else a pointer. A parameter's type is the type of its declared
default (`parameter_type`): a value of another type is converted where that loses nothing (the text "42" to an
integer parameter, the number 42 to a string parameter, "true" to a boolean one) and refused otherwise.

Everything here is pure (no database): `mapping_errors` checks a mapping when it is saved, `apply_mapping` applies
it to a delivery's body. Refusals are `ValidationFailed`, naming `parameter_mapping.<name>` (a saved mapping) or
`parameters.<name>` (a delivery).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from controlplane.core.errors import ValidationFailed

MAX_MAPPED_PARAMETERS = 100
MAX_SOURCE_LENGTH = 1000
FIELD = "parameter_mapping"
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_BAD_ESCAPE = re.compile(r"~(?![01])")
_TEXT_TYPES = (str, int, float)  # what a template placeholder may stand for (bool is an int)


class PointerMissing(LookupError):
    """Nothing is at a JSON pointer in a document; `pointer` says which one."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


class ValueMismatch(ValueError):
    """A value does not fit a parameter's type and cannot be converted; the message says what came."""


# -- pointers and templates ---------------------------------------------------------------------------------
def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The reference tokens of an RFC 6901 JSON pointer, unescaped; ValueError says what is wrong with it."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/', e.g. '/{pointer.lstrip('#')}'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if _BAD_ESCAPE.search(token):
            raise ValueError("'~' in a JSON pointer is written '~0' ('~1' stands for '/')")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at `pointer` in `document`; PointerMissing when there is nothing there."""
    value = document
    for token in parse_pointer(pointer):
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and _ARRAY_INDEX.fullmatch(token) and int(token) < len(value):
            value = value[int(token)]
        else:
            raise PointerMissing(pointer)
    return value


def is_template(source: str) -> bool:
    """Whether a mapping source is a template (it contains `{{`) rather than a JSON pointer."""
    return "{{" in source


def template_pointers(template: str) -> list[str]:
    """The JSON pointers of a template's `{{ /pointer }}` placeholders, in order; ValueError when one is not."""
    pointers = []
    for match in PLACEHOLDER.finditer(template):
        pointer = match.group(1).strip()
        if not pointer.startswith("/"):
            raise ValueError(
                f"the placeholder {match.group(0)!r} must hold a JSON pointer into the body, e.g. '{{{{ /ref }}}}'"
            )
        parse_pointer(pointer)
        pointers.append(pointer)
    rest = PLACEHOLDER.sub("", template)
    if "{{" in rest or "}}" in rest:
        raise ValueError("a '{{' has no matching '}}' (or the reverse); write placeholders as '{{ /pointer }}'")
    return pointers


def source_problem(source: Any) -> str | None:
    """Why `source` is not a valid pointer or template, as a sentence with the fix; None when it is valid."""
    if not isinstance(source, str):
        return (f"Must be a string: a JSON pointer such as '/ref' or a template such as 'branch-{{{{ /ref }}}}', "
                f"not a JSON {json_type(source)}.")
    if not source.strip():
        return "Must not be empty: give a JSON pointer such as '/ref' or a template such as 'branch-{{ /ref }}'."
    if len(source) > MAX_SOURCE_LENGTH:
        return f"Must be at most {MAX_SOURCE_LENGTH} characters."
    try:
        if is_template(source):
            template_pointers(source)
        elif not source.startswith("/"):
            return (f"{source!r} is neither a JSON pointer (it starts with '/', e.g. '/{source}') nor a template "
                    "with '{{ /pointer }}' placeholders; a fixed value belongs in flowyard.json's parameters.")
        else:
            parse_pointer(source)
    except ValueError as problem:
        return f"{source!r} is not valid: {problem}."
    return None


def render_template(template: str, document: Any) -> str:
    """`template` with each `{{ /pointer }}` replaced by the text of the value there.

    PointerMissing when a pointer finds nothing; ValueMismatch when it finds null, an array or an object.
    """

    def text(match: re.Match[str]) -> str:
        pointer = match.group(1).strip()
        value = resolve_pointer(document, pointer)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        if isinstance(value, _TEXT_TYPES):
            return json.dumps(value)
        raise ValueMismatch(f"{pointer} holds {describe(value)}; a template places only strings, numbers and booleans")

    return PLACEHOLDER.sub(text, template)


# -- types ---------------------------------------------------------------------------------------------------
def json_type(value: Any) -> str:
    """The JSON type name of a Python value: string, integer, number, boolean, null, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def describe(value: Any) -> str:
    """`value` for an error message: its JSON type and, for a scalar, the value itself (shortened)."""
    kind = json_type(value)
    if kind in ("array", "object", "null"):
        return "null" if kind == "null" else f"an {kind}"
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{'an' if kind == 'integer' else 'a'} {kind} {shown}"


def parameter_type(default: Any) -> str:
    """A parameter's type, inferred from its declared default; "any" for a null default (anything is taken)."""
    return "any" if default is None else json_type(default)


def convert(value: Any, expected: str) -> Any:
    """`value` as a parameter of type `expected` (from `parameter_type`); ValueMismatch when it cannot be."""
    if expected == "any" or json_type(value) == expected:
        return value
    converted = _converted(value, expected)
    if converted is None:
        raise ValueMismatch(f"expected {'an' if expected in ('integer', 'array', 'object') else 'a'} {expected}, "
                            f"got {describe(value)}")
    return converted


def _converted(value: Any, expected: str) -> Any:
    """The lossless conversion of `value` to `expected`, or None when there is none."""
    kind = json_type(value)
    if expected == "string" and kind in ("integer", "number"):
        return json.dumps(value)
    if expected == "integer":
        if kind == "number" and math.isfinite(value) and value.is_integer():
            return int(value)
        if kind == "string" and _INTEGER_TEXT.fullmatch(value.strip()):
            return int(value.strip())
    if expected == "number":
        if kind == "integer":
            return float(value)
        if kind == "string":
            try:
                number = float(value.strip())
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    if expected == "boolean" and kind == "string" and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


# -- a mapping -----------------------------------------------------------------------------------------------
def mapping_errors(mapping: Any, declared: dict[str, Any]) -> dict[str, list[str]]:
    """Problems of a mapping about to be saved, by field (`parameter_mapping.<name>`); {} when it is valid."""
    if not isinstance(mapping, dict):
        return {FIELD: [f"Must be a JSON object of parameter name → JSON pointer or template, not a JSON "
                        f"{json_type(mapping)}."]}
    if len(mapping) > MAX_MAPPED_PARAMETERS:
        return {FIELD: [f"Map at most {MAX_MAPPED_PARAMETERS} parameters."]}
    known = ", ".join(sorted(declared)) or "none"
    errors: dict[str, list[str]] = {}
    for name, source in mapping.items():
        problems = []
        if name not in declared:
            problems.append(f"The workflow declares no parameter {name!r}; it declares: {known}.")
        if (problem := source_problem(source)) is not None:
            problems.append(problem)
        if problems:
            errors[f"{FIELD}.{name}"] = problems
    return errors


def check_mapping(mapping: Any, declared: dict[str, Any]) -> None:
    """Refuse (ValidationFailed, 400) a mapping with any problem `mapping_errors` finds."""
    if errors := mapping_errors(mapping, declared):
        raise ValidationFailed(errors)


def apply_mapping(mapping: dict[str, str], payload: Any, declared: dict[str, Any]) -> dict[str, Any]:
    """The parameters `mapping` takes from `payload`, each typed like its declared default.

    Every problem is collected and refused at once (ValidationFailed naming `parameters.<name>`): a parameter
    the deployed version no longer declares, a pointer with nothing behind it, a value of the wrong type.
    """
    parameters: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    known = ", ".join(sorted(declared)) or "none"
    for name, source in mapping.items():
        field = f"parameters.{name}"
        if name not in declared:
            errors[field] = [f"The webhook maps {name!r} ({FIELD}.{name}) but the deployed version does not declare "
                             f"it (it declares: {known}); change the webhook's {FIELD}."]
            continue
        try:
            value = render_template(source, payload) if is_template(source) else resolve_pointer(payload, source)
            parameters[name] = convert(value, parameter_type(declared[name]))
        except PointerMissing as missing:
            errors[field] = [f"The body has nothing at {missing.pointer}, which the webhook maps to parameter "
                             f"{name!r}; send it, or change the webhook's {FIELD}.{name}."]
        except ValueMismatch as mismatch:
            errors[field] = [f"Parameter {name!r} (from {source!r}): {mismatch}."]
    if errors:
        raise ValidationFailed(errors)
    return parameters
