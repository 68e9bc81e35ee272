"""A link's webhook secret and forge API token: made, encrypted at rest (the environment secrets' cipher) and
decrypted only to verify a delivery or to call the forge. Never logged."""

from __future__ import annotations

import secrets as token_generator

from cryptography.fernet import InvalidToken

from controlplane.deployments.secrets import encrypt_value, secret_cipher
from controlplane.gitops.errors import DeliveryUnauthenticated

SECRET_PREFIX = "fyg_"


def new_webhook_secret() -> str:
    """A fresh webhook secret: `fyg_` and 43 url-safe characters (256 bits)."""
    return SECRET_PREFIX + token_generator.token_urlsafe(32)


def encrypt_secret(value: str) -> str:
    """The Fernet token stored for a secret or token of a link."""
    return encrypt_value(value)


def decrypt_secret(ciphertext: str) -> str:
    """The clear value of a link's stored secret; DeliveryUnauthenticated when it cannot be decrypted (the key
    changed), so a delivery is refused rather than accepted unverified."""
    try:
        return secret_cipher().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise DeliveryUnauthenticated("This link's webhook secret cannot be decrypted (the installation's secret "
                                      "key changed); a project admin must rotate it.") from None
