"""Payload mapping, the pure functions: JSON pointers (RFC 6901), `{{ /pointer }}` templates, parameter types
inferred from the declared defaults, and the errors that name the parameter, the pointer and what came."""

from __future__ import annotations

import pytest

from controlplane.core.errors import ValidationFailed
from controlplane.scheduling.payload_mapping import (
    PointerMissing,
    ValueMismatch,
    apply_mapping,
    convert,
    mapping_errors,
    parameter_type,
    parse_pointer,
    render_template,
    resolve_pointer,
    source_problem,
    template_pointers,
)

# The RFC 6901 section 5 example document.
RFC_DOCUMENT = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, 'k"l': 6, " ": 7,
                "m~n": 8}

DECLARED = {"project": "", "ref": "main", "iid": 0, "ratio": 1.0, "dry_run": False, "labels": [], "extra": None}


# -- pointers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("pointer", "expected"), [
    ("", RFC_DOCUMENT), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2),
    ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ('/k"l', 6), ("/ ", 7), ("/m~0n", 8),
])
def test_pointers_resolve_as_rfc_6901_says(pointer, expected):
    assert resolve_pointer(RFC_DOCUMENT, pointer) == expected


def test_escapes_are_undone_in_order_so_tilde_one_zero_is_a_tilde_then_a_one():
    assert parse_pointer("/~01") == ("~1",)
    assert resolve_pointer({"~1": "tilde-one", "/": "slash"}, "/~01") == "tilde-one"


@pytest.mark.parametrize("pointer", ["/bar", "/foo/2", "/foo/01", "/foo/-", "/foo/0/x", "/m~0n/deeper"])
def test_a_pointer_with_nothing_behind_it_raises_pointer_missing_naming_it(pointer):
    with pytest.raises(PointerMissing) as missing:
        resolve_pointer(RFC_DOCUMENT, pointer)
    assert missing.value.pointer == pointer


@pytest.mark.parametrize(("pointer", "says"), [("ref", "starts with '/'"), ("/a~2b", "'~0'"), ("/a~", "'~0'")])
def test_a_malformed_pointer_is_refused_saying_how_to_write_it(pointer, says):
    with pytest.raises(ValueError, match=says):
        parse_pointer(pointer)


# -- templates -----------------------------------------------------------------------------------------------
def test_a_template_places_the_text_of_strings_numbers_and_booleans():
    body = {"ref": "refs/heads/main", "n": 42, "x": 1.5, "ok": True}
    assert render_template("{{ /ref }}@{{/n}}-{{ /x }}-{{ /ok }}", body) == "refs/heads/main@42-1.5-true"
    assert template_pointers("branch-{{ /ref }} of {{ /project/path_with_namespace }}") == [
        "/ref", "/project/path_with_namespace"]


@pytest.mark.parametrize("value", [None, {"a": 1}, [1]], ids=["null", "object", "array"])
def test_a_template_refuses_to_place_null_an_object_or_an_array(value):
    with pytest.raises(ValueMismatch, match="/v holds"):
        render_template("x-{{ /v }}", {"v": value})


def test_a_template_placeholder_with_nothing_behind_it_raises_pointer_missing():
    with pytest.raises(PointerMissing) as missing:
        render_template("branch-{{ /ref }}", {})
    assert missing.value.pointer == "/ref"


@pytest.mark.parametrize(("source", "says"), [
    ("ref", "neither a JSON pointer"),
    ("", "Must not be empty"),
    ("branch-{{ ref }}", "must hold a JSON pointer"),
    ("branch-{{ /ref }", "no matching"),
    ("{{ /a~2 }}", "'~0'"),
    (7, "Must be a string"),
    ("/" + "x" * 1000, "at most 1000"),
])
def test_a_source_that_is_neither_a_pointer_nor_a_template_is_explained(source, says):
    assert says in source_problem(source)


@pytest.mark.parametrize("source", ["/ref", "/object_attributes/iid", "/a~1b/~0", "branch-{{ /ref }}", "{{/a}}{{/b}}"])
def test_pointers_and_templates_are_valid_sources(source):
    assert source_problem(source) is None


# -- types ---------------------------------------------------------------------------------------------------
def test_a_parameters_type_is_the_type_of_its_default_and_a_null_default_takes_anything():
    assert [parameter_type(DECLARED[name]) for name in DECLARED] == [
        "string", "string", "integer", "number", "boolean", "array", "any"]


@pytest.mark.parametrize(("value", "expected", "result"), [
    ("42", "integer", 42), (" -7 ", "integer", -7), (3.0, "integer", 3), (42, "string", "42"),
    (1.5, "string", "1.5"), (2, "number", 2.0), ("2.5", "number", 2.5), ("TRUE", "boolean", True),
    ("false", "boolean", False), ({"a": 1}, "any", {"a": 1}), ([1], "array", [1]), ("main", "string", "main"),
])
def test_values_are_converted_when_nothing_is_lost(value, expected, result):
    converted = convert(value, expected)
    assert converted == result and type(converted) is type(result)


@pytest.mark.parametrize(("value", "expected", "says"), [
    ("abc", "integer", 'expected an integer, got a string "abc"'),
    (1.5, "integer", "expected an integer, got a number 1.5"),
    (True, "integer", "expected an integer, got a boolean true"),
    ("yes", "boolean", 'expected a boolean, got a string "yes"'),
    (1, "boolean", "expected a boolean, got an integer 1"),
    (None, "string", "expected a string, got null"),
    ({"a": 1}, "string", "expected a string, got an object"),
    ("nan", "number", 'expected a number, got a string "nan"'),
    ("x", "array", 'expected an array, got a string "x"'),
])
def test_a_value_that_cannot_be_converted_says_the_expected_type_and_what_came(value, expected, says):
    with pytest.raises(ValueMismatch) as mismatch:
        convert(value, expected)
    assert str(mismatch.value) == says


# -- a whole mapping -----------------------------------------------------------------------------------------
def test_a_valid_mapping_has_no_errors():
    assert mapping_errors({"iid": "/object_attributes/iid", "ref": "branch-{{ /ref }}"}, DECLARED) == {}


def test_mapping_errors_name_each_parameter_and_say_which_are_declared():
    errors = mapping_errors({"colour": "/colour", "ref": "ref", "iid": "/iid"}, DECLARED)
    assert errors.keys() == {"parameter_mapping.colour", "parameter_mapping.ref"}
    assert "declares no parameter 'colour'" in errors["parameter_mapping.colour"][0]
    assert "dry_run, extra, iid, labels, project, ratio, ref" in errors["parameter_mapping.colour"][0]
    assert "neither a JSON pointer" in errors["parameter_mapping.ref"][0]


def test_a_mapping_that_is_not_an_object_is_refused_as_a_whole():
    assert mapping_errors(["/ref"], DECLARED) == {"parameter_mapping": [
        "Must be a JSON object of parameter name → JSON pointer or template, not a JSON array."]}


def test_apply_mapping_takes_each_value_typed_like_its_default_and_nothing_else():
    push = {"ref": "refs/heads/main", "project": {"id": 7, "path": "data/etl"},
            "object_attributes": {"iid": "12"}, "commits": [{"id": "abc"}], "ignored": "x"}
    mapping = {"project": "/project/id", "ref": "{{ /project/path }}@{{ /ref }}", "iid": "/object_attributes/iid",
               "extra": "/commits"}
    assert apply_mapping(mapping, push, DECLARED) == {
        "project": "7", "ref": "data/etl@refs/heads/main", "iid": 12, "extra": [{"id": "abc"}]}


def test_apply_mapping_refuses_every_problem_at_once_naming_parameter_pointer_and_type():
    mapping = {"iid": "/object_attributes/iid", "ref": "branch-{{ /ref }}", "dry_run": "/dry", "gone": "/x"}
    with pytest.raises(ValidationFailed) as refused:
        apply_mapping(mapping, {"object_attributes": {"iid": "twelve"}, "dry": "maybe"}, DECLARED)
    fields = refused.value.extra["fields"]
    assert fields.keys() == {"parameters.iid", "parameters.ref", "parameters.dry_run", "parameters.gone"}
    assert fields["parameters.iid"] == [
        "Parameter 'iid' (from '/object_attributes/iid'): expected an integer, got a string \"twelve\"."]
    assert "nothing at /ref" in fields["parameters.ref"][0] and "parameter 'ref'" in fields["parameters.ref"][0]
    assert 'expected a boolean, got a string "maybe"' in fields["parameters.dry_run"][0]
    assert "does not declare it" in fields["parameters.gone"][0]
