"""Encryption at rest of stored secrets (environment secrets, webhook secrets, forge and provider tokens).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`). The Fernet key is derived
from the installation's `FLOWYARD_SECRET_KEY` (`settings.FLOWYARD.secret_key`) with HKDF-SHA256 and the fixed
info string `HKDF_INFO`, so a deployment needs no second key to manage; changing `FLOWYARD_SECRET_KEY` makes
every stored value undecryptable. `secret_cipher(keys=...)` already takes explicit Fernet keys: `MultiFernet`
encrypts with the first and decrypts with any, so a dedicated key can be introduced without losing rows.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Changing this string changes the derived key: every stored secret would become undecryptable.
HKDF_INFO = b"flowyard:environment-secrets:fernet:v1"


def derive_key(secret_key: str) -> bytes:
    """The Fernet key (url-safe base64 of 32 bytes) derived from the installation's secret key by HKDF-SHA256."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


@functools.lru_cache(maxsize=8)
def _cipher_for(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def secret_cipher(keys: Sequence[str | bytes] | None = None) -> MultiFernet:
    """The cipher for secret values: explicit Fernet `keys` (first one encrypts), else the derived key."""
    if keys:
        chosen = tuple(key.encode("ascii") if isinstance(key, str) else key for key in keys)
    else:
        chosen = (derive_key(settings.FLOWYARD.secret_key),)
    return _cipher_for(chosen)


def encrypt_value(value: str) -> str:
    """The Fernet token (ASCII text) that stores `value`."""
    return secret_cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(ciphertext: str) -> str | None:
    """The clear text of a stored Fernet token; None when it cannot be decrypted (the key changed, or it was altered)."""
    try:
        return secret_cipher().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return None
