"""Masking secret values in text before it is stored (log lines, task errors, run messages).

`SecretMasker(values).mask(text)` replaces with `***` every occurrence of each secret value and of the forms
a program commonly prints it in:

- the value itself;
- its escaped forms: Python `repr` (a traceback showing locals, a dict or list repr, `'s3cr\\'et'`), JSON
  (`"s3cr\\"et"`, ASCII-escaped or not), the repr of its UTF-8 bytes, and those escapes escaped once more
  (a JSON log record that carries a repr);
- base64 of its UTF-8 bytes, standard and URL-safe alphabets, with and without `=` padding;
- hex of its UTF-8 bytes, lower and upper case;
- URL (percent) encoding: `quote(value, safe="")`, `quote(value)` (keeps `/`), `quote_plus(value)`, each also
  with lower-case hex digits;
- best effort, for values of at least `EMBEDDED_BASE64_MIN_BYTES` bytes: the value's base64 *inside a longer
  base64 string*, e.g. an `Authorization: Basic` header (`base64("user:" + value)`) or a base64-encoded
  config file. The value's bytes start at offset 0, 1 or 2 modulo 3 of the encoded data; for each alignment
  the characters determined by the value's bytes alone are masked (both alphabets). Not covered: base64
  wrapped across lines inside the value's part, or encoded twice;
- for a multi-line value (a PEM key), also each of its lines on its own, because output is stored line by
  line.

Values shorter than `MIN_SECRET_LENGTH` (4) characters are not masked: strings that short (`1`, `yes`, `abc`)
occur everywhere in ordinary output, so masking them would garble every log without protecting anything
(they are guessable anyway). Masking is a safety net, not a guarantee: a program that deliberately
transforms a secret (reverses it, prints one character per line) gets it out.

The masker compiles one regular expression matching every form of every value (`re.escape`d, so a value's
`.`, `*` or `(` are literal). Where forms overlap (a value and its padded base64, one secret inside another)
the longest is replaced whole. The alternation is written as a trie (`abc|abd` becomes `ab(?:c|d)`), so a
line costs about the same whatever the number of secrets: at each position the regex engine follows one
branch instead of trying every form in turn (1000 lines against 100 secrets: ~10 ms instead of ~190 ms).
One `sub` per line.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
# Base64 fragments of shorter values would be 6 characters or fewer: too likely inside unrelated base64 data.
EMBEDDED_BASE64_MIN_BYTES = 6
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _escaped(value: str) -> Iterator[str]:
    """The value as it appears inside a quoted Python or JSON string literal."""
    yield repr(value)[1:-1]
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value.encode("utf-8"))[2:-1]


def _base64_forms(data: bytes) -> Iterator[str]:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        padded = encode(data).decode("ascii")
        yield padded
        yield padded.rstrip("=")


def _embedded_base64_forms(data: bytes) -> Iterator[str]:
    """For each alignment of `data` in a longer byte string, the base64 characters only `data` determines."""
    for offset in range(3):
        first = -(-8 * offset // 6)  # the first character whose 6 bits all come from `data`
        last = 8 * (offset + len(data)) // 6  # characters before this one end inside `data`
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            yield encode(b"\0" * offset + data).decode("ascii")[first:last]


def _url_forms(value: str) -> Iterator[str]:
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value)):
        yield encoded
        yield _PERCENT_HEX.sub(lambda match: match.group().lower(), encoded)


def secret_forms(value: str) -> set[str]:
    """Every string `SecretMasker` masks for `value` (empty when the value is too short to mask)."""
    if len(value) < MIN_SECRET_LENGTH:
        return set()
    data = value.encode("utf-8")
    forms = {value, data.hex(), data.hex().upper()}
    for escaped in _escaped(value):
        forms.add(escaped)
        forms.update(_escaped(escaped))
    forms.update(_base64_forms(data))
    forms.update(_url_forms(value))
    if len(data) >= EMBEDDED_BASE64_MIN_BYTES:
        forms.update(_embedded_base64_forms(data))
    if "\n" in value:
        forms.update(line.strip() for line in value.splitlines())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


_END = ""  # marks "a form ends here" in a trie node (no character is the empty string)


def _trie_regex(node: dict[str, dict]) -> str:
    """The regex for the forms below a trie node: longest match first, chains of single characters merged."""
    branches = []
    for char in sorted(key for key in node if key != _END):
        literal, child = [char], node[char]
        while len(child) == 1 and _END not in child:  # one way on: a plain literal, no nesting
            (next_char, child), = child.items()
            literal.append(next_char)
        branches.append(re.escape("".join(literal)) + _trie_regex(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A form may end here or go on: greedy `?` tries going on first, so the longest form wins.
    return f"(?:{body})?" if _END in node else body


def forms_regex(forms: Iterable[str]) -> re.Pattern[str]:
    """One compiled regex that matches any of `forms`, preferring the longest where several match."""
    trie: dict[str, dict] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[_END] = {}
    try:
        return re.compile(_trie_regex(trie))
    except (RecursionError, re.error):  # pathologically nested forms: the plain alternation, longest first
        return re.compile("|".join(re.escape(form) for form in sorted(forms, key=lambda form: (-len(form), form))))


@functools.lru_cache(maxsize=128)
def _compiled(values: frozenset[str]) -> tuple[re.Pattern[str] | None, int]:
    """The regex for a set of values (None: nothing to mask) and its number of forms; cached per set of values,
    so building a masker for every batch of a run costs a dictionary lookup after the first."""
    forms: set[str] = set()
    for value in values:
        forms |= secret_forms(value)
    return (forms_regex(forms) if forms else None), len(forms)


class SecretMasker:
    """Replaces every secret value (and its encoded forms, see the module docstring) in text with `***`."""

    def __init__(self, values: Iterable[str]) -> None:
        self._pattern, self.form_count = _compiled(frozenset(values))

    def __bool__(self) -> bool:
        """False when there is nothing to mask (no value long enough)."""
        return self._pattern is not None

    def __repr__(self) -> str:  # never the values
        return f"<SecretMasker {self.form_count} forms>"

    def mask(self, text: str) -> str:
        """`text` with every secret form replaced by `***`."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_all(self, texts: Iterable[str]) -> list[str]:
        """`mask` applied to each text of a batch."""
        return [self.mask(text) for text in texts]
