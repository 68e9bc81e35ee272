"""Making and recognising token values; only their SHA-256 hashes are ever stored."""

from __future__ import annotations

import hashlib
import secrets

PERSONAL_PREFIX = "fyp_"
CI_PREFIX = "fyc_"
RUN_PREFIX = "fyr_"
SHOWN_PREFIX_LENGTH = 12


def token_hash(value: str) -> str:
    """The stored form of a token (tokens carry 256 random bits, so a plain SHA-256 suffices)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_token(kind_prefix: str) -> tuple[str, str, str]:
    """A fresh token: (value to show once, prefix to store and show, hash to store)."""
    value = kind_prefix + secrets.token_urlsafe(32)
    return value, value[:SHOWN_PREFIX_LENGTH], token_hash(value)
