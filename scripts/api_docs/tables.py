"""Markdown pieces made from OpenAPI schema objects: type labels, field and parameter tables."""

from __future__ import annotations

import json
import re
from typing import Any

INT64_BOUNDS = {9223372036854775807, -9223372036854775808}
ENUM_DESCRIPTION_LINE = re.compile(r"^\* `[^`]*` - .*$")


def ref_name(schema: dict[str, Any]) -> str | None:
    """The component name a `$ref` schema points to, or None."""
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def resolve_ref(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The component a `$ref` schema points to, or the schema itself."""
    name = ref_name(schema)
    return components.get(name, {}) if name else schema


def table_cell(text: Any) -> str:
    """Text fit for one Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def clean_description(text: str | None) -> str:
    """A description on one line, without the `* `value` - label` lines spectacular adds for enums."""
    lines = [line for line in (text or "").splitlines() if not ENUM_DESCRIPTION_LINE.match(line.strip())]
    return " ".join(" ".join(lines).split())


def _is_blank(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    target = resolve_ref(schema, components)
    return target.get("maxLength") == 0 or target.get("enum") == [""]


def type_label(schema: dict[str, Any], components: dict[str, Any]) -> str:
    """A short human label for a schema's type: `string (uuid)`, `one of: a, b`, `array of X`, …."""
    if len(schema.get("allOf", [])) == 1:  # spectacular's way to put a default or nullable next to a $ref
        return type_label({**schema["allOf"][0], "nullable": schema.get("nullable", False)}, components)
    name = ref_name(schema)
    target = resolve_ref(schema, components)
    if "oneOf" in target:
        options = [option for option in target["oneOf"] if not _is_blank(option, components)]
        label = " or ".join(dict.fromkeys(type_label(option, components) for option in options)) or "string"
        if len(options) < len(target["oneOf"]) and label != "string":
            label += ", or empty"
    elif "enum" in target:
        label = "one of: " + ", ".join(f"`{value}`" for value in target["enum"] if value != "")
    elif name:
        label = f"object `{name}`"
    elif target.get("type") == "array":
        label = "array of " + type_label(target.get("items", {}), components)
    elif target.get("type") == "object" and "additionalProperties" in target and "properties" not in target:
        values = target["additionalProperties"]
        label = "object (map of " + (type_label(values, components) if values else "any JSON") + ")"
    elif "type" in target:
        fmt = target.get("format")
        label = target["type"] + (f" ({fmt})" if fmt and fmt not in ("int32", "int64", "double", "float") else "")
    else:
        label = "any JSON"
    return label + (", nullable" if schema.get("nullable") else "")


def _constraints(schema: dict[str, Any]) -> list[str]:
    notes = []
    for option in [schema, *schema.get("oneOf", [])]:
        if "default" in option:
            notes.append(f"default `{json.dumps(option['default'])}`")
        if option.get("maxLength"):
            notes.append(f"max length {option['maxLength']}")
        if "pattern" in option:
            notes.append(f"pattern `{option['pattern']}`")
        for key, word in (("minimum", "min"), ("maximum", "max")):
            if key in option and option[key] not in INT64_BOUNDS:
                notes.append(f"{word} {option[key]}")
    return list(dict.fromkeys(notes))


def _field_rows(
    schema: dict[str, Any], components: dict[str, Any], *, request: bool, prefix: str = "", seen: tuple[str, ...] = ()
) -> list[str]:
    """Table rows for an object's properties, descending into referenced objects (arrays shown as `name[]`)."""
    resolved = resolve_ref(schema, components)
    required = set(resolved.get("required", []))
    rows = []
    for name, prop in resolved.get("properties", {}).items():
        if request and prop.get("readOnly"):
            continue
        label = table_cell(type_label(prop, components))
        description = clean_description(prop.get("description"))
        if request:
            description = "; ".join(part for part in [description, *_constraints(prop)] if part)
            rows.append(f"| `{prefix}{name}` | {label} | {'yes' if name in required else 'no'} | {table_cell(description)} |")
        else:
            rows.append(f"| `{prefix}{name}` | {label} | {table_cell(description)} |")
        nested, suffix = prop, ""
        if prop.get("type") == "array":
            nested, suffix = prop.get("items", {}), "[]"
        ref = ref_name(nested)
        if ref and ref not in seen and "properties" in components.get(ref, {}):
            rows += _field_rows(nested, components, request=request, prefix=f"{prefix}{name}{suffix}.", seen=(*seen, ref))
    return rows


def field_table(schema: dict[str, Any], components: dict[str, Any], *, request: bool) -> list[str]:
    """A Markdown table of an object's fields (with `required` for a request body), or "No fields."."""
    rows = _field_rows(schema, components, request=request)
    header = ["| field | type | required | description |", "|---|---|---|---|"] if request else [
        "| field | type | description |", "|---|---|---|"]
    return [*header, *rows, ""] if rows else ["No fields.", ""]


def parameter_table(parameters: list[dict[str, Any]], components: dict[str, Any]) -> list[str]:
    """A Markdown table of path or query parameters, sorted by name."""
    rows = ["| name | type | required | description |", "|---|---|---|---|"]
    for parameter in sorted(parameters, key=lambda p: p["name"]):
        schema = parameter.get("schema", {})
        if schema.get("type") == "array":  # ?state=A&state=B
            label = type_label(schema.get("items", {}), components) + "; repeat the parameter for several"
        else:
            label = type_label(schema, components)
        description = clean_description(parameter.get("description"))
        rows.append(
            f"| `{parameter['name']}` | {table_cell(label)} | {'yes' if parameter.get('required') else 'no'} | {table_cell(description)} |"
        )
    return [*rows, ""]


def json_body_schema(content: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a JSON (or else the first) media type of a request or response content, or None."""
    media = content.get("application/json") or next(iter(content.values()), None)
    return media.get("schema") if media else None


def is_paginated(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a response schema is one of our pages: `{next, previous, results}`."""
    properties = resolve_ref(schema, components).get("properties", {})
    return {"next", "previous", "results"} <= set(properties)

