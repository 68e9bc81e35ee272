"""Secrets of an environment: encryption at rest, the writes (set, delete), and the launcher's read.

Values are encrypted with `controlplane.core.encryption` (Fernet; key derived from `FLOWYARD_SECRET_KEY` with
HKDF-SHA256 and `HKDF_INFO`, so a deployment needs no second key to manage). Consequences:

- Changing `FLOWYARD_SECRET_KEY` makes every stored secret undecryptable (`SecretUndecryptable` at launch);
  set them again after a key change.
- `secret_cipher(keys=...)` already takes explicit Fernet keys: when a dedicated `FLOWYARD_SECRETS_KEY`
  setting is added (config.py), pass `[explicit key, derived key]` there. `MultiFernet` encrypts with the
  first key and decrypts with any of them, so existing rows keep working and can be re-encrypted with
  `MultiFernet.rotate` at leisure.

A value never leaves this module except through `environment_secret_values`, which only the launcher calls.
Nothing here logs, audits or puts a value (or its ciphertext) into an error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import transaction
from django.db.models import QuerySet

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.encryption import HKDF_INFO, derive_key, encrypt_value, secret_cipher  # noqa: F401 (re-exported)
from controlplane.core.errors import FlowyardError, ValidationFailed
from controlplane.deployments.models import Environment, EnvironmentSecret
from controlplane.deployments.models.secrets import SECRET_NAME_PATTERN
from controlplane.tenancy.selectors import project_list

MAX_VALUE_BYTES = 32 * 1024
MAX_NAME_LENGTH = 255
# The runner's own variables (FLOWYARD_RUN_TOKEN, FLOWYARD_API_URL, ...): a secret must not replace them.
RESERVED_PREFIX = "FLOWYARD_"
_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretUndecryptable(FlowyardError):
    """A stored secret cannot be decrypted with the current key (the secret key changed, or the row was altered)."""

    code = "secret_undecryptable"
    http_status = 500


class SecretsMissing(FlowyardError):
    """The run needs secrets its environment does not have."""

    code = "secrets_missing"
    http_status = 409


# -- encryption (controlplane.core.encryption) ------------------------------------------------------------
def decrypt_value(secret: EnvironmentSecret) -> str:
    """The clear value of `secret`; SecretUndecryptable names the secret, never its contents."""
    try:
        return secret_cipher().decrypt(secret.encrypted_value.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretUndecryptable(
            f"Secret {secret.name} of environment {secret.environment} cannot be decrypted: the installation's "
            "secret key changed since it was set, or the stored value was altered. Set the secret again.",
            extra={"secret": str(secret.pk), "name": secret.name},
        ) from None


# -- validation ----------------------------------------------------------------------------------------------
def secret_name_problems(name: str) -> list[str]:
    """What is wrong with `name` as a secret (environment variable) name; empty when nothing."""
    if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        return [f"{name[:80]!r} is not a valid secret name: use upper-case letters, digits and underscores, "
                f"not starting with a digit, at most {MAX_NAME_LENGTH} characters (e.g. DB_PASSWORD)."]
    if name.startswith(RESERVED_PREFIX):
        return [f"Names starting with {RESERVED_PREFIX} are reserved for the Flowyard runner; pick another name."]
    return []


def secret_value_problems(value: Any) -> list[str]:
    """What is wrong with `value` as a secret value; the messages never quote the value."""
    if not isinstance(value, str):
        return ["The value must be a string."]
    if value == "":
        return ["The value must not be empty."]
    if "\x00" in value:
        return ["The value must not contain a NUL character (environment variables cannot hold one)."]
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        return [f"The value is too long: at most {MAX_VALUE_BYTES} bytes (32 KiB) in UTF-8."]
    return []


# -- reads ---------------------------------------------------------------------------------------------------
def secret_list(*, user: object) -> QuerySet[EnvironmentSecret]:
    """Secrets (names and dates, not the ciphertext) of the environments of projects the user can see."""
    return (
        EnvironmentSecret.objects.filter(environment__project__in=project_list(user=user))
        .select_related("environment__project")
        .defer("encrypted_value")
    )


def environment_secret_values(environment: Environment, names: Iterable[str] | None = None) -> dict[str, str]:
    """The decrypted secrets of `environment`, name → value, for the launcher to inject. Never log the result.

    With `names` (the version config's `secrets`), only those, and SecretsMissing lists any the environment
    lacks; without, every secret of the environment. A preview environment's secrets are its base's (test's).
    """
    environment = environment.settings_source
    secrets = EnvironmentSecret.objects.filter(environment=environment).select_related("environment__project")
    wanted = None if names is None else set(names)
    if wanted is not None:
        secrets = secrets.filter(name__in=wanted)
    values = {secret.name: decrypt_value(secret) for secret in secrets.order_by("name")}
    if wanted is not None and (missing := sorted(wanted - values.keys())):
        raise SecretsMissing(
            f"Environment {environment} has no secret {', '.join(missing)}; an admin of the project must set "
            f"{'it' if len(missing) == 1 else 'them'} (POST /api/v1/secrets/).",
            extra={"missing": missing},
        )
    return values


# -- writes --------------------------------------------------------------------------------------------------
@transaction.atomic
def secret_set(*, actor: Any, environment: Environment, name: str, value: str) -> EnvironmentSecret:
    """Create the secret `name` of `environment`, or replace its value; audited as `secret.set` (no value)."""
    problems = {}
    if name_problems := secret_name_problems(name):
        problems["name"] = name_problems
    if value_problems := secret_value_problems(value):
        problems["value"] = value_problems
    if problems:
        raise ValidationFailed(problems)
    _, label = actor_user_and_label(actor)
    secret, created = EnvironmentSecret.objects.select_for_update().get_or_create(
        environment=environment, name=name,
        defaults={"encrypted_value": encrypt_value(value), "created_by_label": label[:200]},
    )
    before = None
    if not created:
        try:
            unchanged = decrypt_value(secret) == value
        except SecretUndecryptable:
            unchanged = False
        if unchanged:  # a write that changes nothing records nothing
            return secret
        before = snapshot(secret)
        secret.encrypted_value = encrypt_value(value)
        secret.save(update_fields=["encrypted_value", "updated_at"])
    audit_record(
        actor=actor, action="secret.set", obj=secret, before=before, after=snapshot(secret),
        project=environment.project,
    )
    return secret


@transaction.atomic
def secret_delete(*, actor: Any, secret: EnvironmentSecret) -> None:
    """Delete a secret; audited as `secret.deleted`."""
    audit_record(
        actor=actor, action="secret.deleted", obj=secret, before=snapshot(secret), project=secret.environment.project
    )
    secret.delete()
