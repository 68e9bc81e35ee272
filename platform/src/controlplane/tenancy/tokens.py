"""Making and recognising token values; only their SHA-256 hashes are ever stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db.models import QuerySet

PERSONAL_PREFIX = "fyp_"
CI_PREFIX = "fyc_"
RUN_PREFIX = "fyr_"
SHOWN_PREFIX_LENGTH = 12


def token_hash(value: str) -> str:
    """The stored form of a token (tokens carry 256 random bits, so a plain SHA-256 suffices)."""
    return hashlib.sha256(value.encode()).hexdigest()


def holder_of(tokens: QuerySet, value: str) -> Any:
    """The object of `tokens` whose stored hash is `value`'s, or None: one lookup by that unique hash."""
    try:
        return tokens.get(token_hash=token_hash(value))
    except tokens.model.DoesNotExist:
        return None


def new_token(kind_prefix: str) -> tuple[str, str, str]:
    """A fresh token: (value to show once, prefix to store and show, hash to store)."""
    value = kind_prefix + secrets.token_urlsafe(32)
    return value, value[:SHOWN_PREFIX_LENGTH], token_hash(value)
