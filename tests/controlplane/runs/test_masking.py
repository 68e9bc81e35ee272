"""SecretMasker: a secret never reaches stored text, raw or in the forms programs commonly print it in."""

from __future__ import annotations

import base64
import json
import re
import time
import traceback
from urllib.parse import quote, quote_plus

import pytest

from controlplane.runs.masking import MASK, MIN_SECRET_LENGTH, SecretMasker, secret_forms

# Quotes (escaped by repr and JSON), '/', '+' and '?' (URL encoding; '+' and '/' in its standard base64),
# a space, a non-ASCII letter, and a length that leaves base64 padding.
SECRET = "Tr0ub\"4dor'&3/??>>~~ wö!"
DATA = SECRET.encode("utf-8")


def test_the_test_secret_exercises_every_encoding():
    assert base64.b64encode(DATA) != base64.urlsafe_b64encode(DATA)
    assert base64.b64encode(DATA).endswith(b"=")
    assert quote(SECRET, safe="") != quote_plus(SECRET) != SECRET
    assert repr(SECRET)[1:-1] != SECRET and json.dumps(SECRET)[1:-1] != SECRET


def masked(text: str, *values: str) -> str:
    return SecretMasker(values or [SECRET]).mask(text)


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(SECRET, id="raw"),
        pytest.param(base64.b64encode(DATA).decode(), id="base64"),
        pytest.param(base64.b64encode(DATA).decode().rstrip("="), id="base64-unpadded"),
        pytest.param(base64.urlsafe_b64encode(DATA).decode(), id="base64-urlsafe"),
        pytest.param(base64.urlsafe_b64encode(DATA).decode().rstrip("="), id="base64-urlsafe-unpadded"),
        pytest.param(DATA.hex(), id="hex"),
        pytest.param(DATA.hex().upper(), id="hex-upper"),
        pytest.param(quote(SECRET, safe=""), id="url-encoded"),
        pytest.param(quote(SECRET), id="url-encoded-keeping-slash"),
        pytest.param(quote_plus(SECRET), id="url-encoded-plus"),
        pytest.param(re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")), id="url-lower-hex"),
        pytest.param(repr(SECRET), id="repr"),
        pytest.param(json.dumps(SECRET), id="json"),
        pytest.param(json.dumps(SECRET, ensure_ascii=False), id="json-unicode"),
        pytest.param(repr(DATA), id="bytes-repr"),
        pytest.param(json.dumps(repr(SECRET)), id="json-of-repr"),
    ],
)
def test_each_form_of_the_secret_is_masked_inside_a_line(form):
    line = f"connecting with credential={form}; retrying"
    result = masked(line)
    assert result.startswith("connecting with credential=") and result.endswith("; retrying")
    assert SECRET not in result and form.strip("'\"b") not in result
    assert MASK in result


def test_every_generated_form_is_masked_whole():
    for form in secret_forms(SECRET):
        assert masked(f"<{form}>") == f"<{MASK}>", form


def test_a_real_traceback_holding_the_secret_keeps_its_shape_but_loses_the_secret():
    def connect(password: str) -> None:
        settings = {"user": "ada", "password": password, "retries": 3}
        raise ConnectionError(f"login refused for {settings!r} (password {password})")

    try:
        connect(SECRET)
    except ConnectionError as error:
        plain = traceback.format_exc()
        with_locals = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert SECRET in plain and repr(SECRET) in plain  # the message shows it raw and in the dict repr
    assert f"password = {repr(SECRET)}" in with_locals  # locals are shown by repr
    masker = SecretMasker([SECRET])
    for text in (plain, with_locals):
        stored = [masker.mask(line) for line in text.splitlines()]  # stored line by line, like the runner sends it
        joined = "\n".join(stored)
        assert SECRET not in joined and repr(SECRET)[1:-1] not in joined
        assert joined.startswith("Traceback (most recent call last):")
        assert "ConnectionError: login refused for {'user': 'ada', 'password': '***', 'retries': 3} (password ***)" in joined
    assert f"password = '{MASK}'" in masker.mask(with_locals)


def test_json_and_dict_reprs_are_masked():
    record = {"event": "login", "password": SECRET, "nested": [{"token": SECRET}]}
    assert masked(json.dumps(record)) == json.dumps(record).replace(json.dumps(SECRET)[1:-1], MASK)
    assert SECRET not in masked(json.dumps(record)) and json.dumps(SECRET)[1:-1] not in masked(json.dumps(record))
    text = masked(repr(record))
    assert text == "{'event': 'login', 'password': '***', 'nested': [{'token': '***'}]}"
    assert masked(str([SECRET, "other"])) == "['***', 'other']"


@pytest.mark.parametrize("prefix", [b"", b"u", b"us", b"user:", b"admin:"])
def test_base64_of_the_secret_inside_longer_base64_is_masked_at_every_alignment(prefix):
    header = "Authorization: Basic " + base64.b64encode(prefix + DATA + b"\n").decode()
    result = masked(header)
    assert MASK in result
    encoded = result.removeprefix("Authorization: Basic ")
    # What is left cannot be decoded back to the secret, nor to any run of it longer than 3 bytes.
    left = "".join(part for part in encoded.split(MASK))
    assert len(left) <= 12, encoded
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        assert masked("x" + alphabet(prefix + DATA + b"tail!").decode() + "y").count(MASK) == 1


def test_values_shorter_than_the_minimum_are_not_masked():
    assert MIN_SECRET_LENGTH == 4
    assert masked("yes, abc and 1 are everywhere", "abc", "1", "yes") == "yes, abc and 1 are everywhere"
    assert not SecretMasker(["abc", ""])
    assert masked("pass=abcd", "abcd") == "pass=***"


def test_special_regex_characters_are_literal():
    value = "a.b*c(d)[e]|f"
    assert masked("aXb*c(d)[e]|f and abbbc", value) == "aXb*c(d)[e]|f and abbbc"
    assert masked(f"<{value}>", value) == f"<{MASK}>"


def test_the_longest_form_wins_where_secrets_overlap():
    short, long = "hunter22", "hunter22-extended"
    assert masked(f"a {long} b {short} c", short, long) == f"a {MASK} b {MASK} c"
    padded = base64.b64encode(b"abcd").decode()  # YWJjZA== : the unpadded form is a prefix of it
    assert masked(f"[{padded}]", "abcd") == f"[{MASK}]"


def test_several_secrets_and_repeated_occurrences():
    text = f"{SECRET} and api-key-123456 then {SECRET} again"
    assert masked(text, SECRET, "api-key-123456") == f"{MASK} and {MASK} then {MASK} again"


def test_a_multi_line_secret_is_masked_line_by_line():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
    lines = [SecretMasker([pem]).mask(line) for line in f"loaded key:\n{pem}done".splitlines()]
    assert lines == ["loaded key:", MASK, MASK, MASK, MASK, "done"]


def test_no_secrets_mask_nothing():
    masker = SecretMasker([])
    assert not masker and masker.mask("anything at all") == "anything at all"
    assert "forms" in repr(SecretMasker([SECRET])) and SECRET not in repr(SecretMasker([SECRET]))


def test_a_batch_of_1000_lines_is_masked_fast():
    values = [SECRET, *(f"secret-value-{index:02d}-" + "x" * index for index in range(19))]
    lines = [
        f"2026-01-01T00:00:{index % 60:02d} INFO task extract-{index} processed {index * 37} rows from s3://bucket/key"
        + (f" with {values[index % 20]}" if index % 25 == 0 else "")
        for index in range(1000)
    ]
    started = time.perf_counter()
    masker = SecretMasker(values)
    built = time.perf_counter()
    result = masker.mask_all(lines)
    done = time.perf_counter()
    print(f"\nSecretMasker: {masker.form_count} forms of 20 secrets built in {(built - started) * 1000:.1f} ms; "
          f"1000 lines masked in {(done - built) * 1000:.1f} ms")
    assert done - built < 1.0
    assert sum(MASK in line for line in result) == 40
    assert not any(value in line for value in values for line in result)
