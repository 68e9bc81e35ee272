"""Who the provider says signed in: the claims Flowyard uses, read with the installation's claim names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.config import FlowyardConfig
from controlplane.sso.errors import SignInRefused

USERNAME_PATTERN = re.compile(r"^[\w.@+-]{1,150}$")


@dataclass(frozen=True)
class Identity:
    """A person as the provider describes them: stable id, username, contact, groups and forge login."""

    issuer: str
    subject: str
    username: str
    email: str
    name: str
    groups: tuple[str, ...]
    forge_login: str = ""

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], config: FlowyardConfig, *, issuer: str) -> "Identity":
        """Read an identity from checked claims; SignInRefused names a missing or unusable claim and the setting."""
        subject = str(claims.get("sub") or "")
        if not subject:
            raise SignInRefused("The provider's answer names nobody (no sub claim).", extra={"claim": "sub"})
        username = str(claims.get(config.oidc_username_claim) or "").strip()
        if not username:
            raise SignInRefused(
                f"The provider sent no {config.oidc_username_claim!r} claim to use as your username; a platform admin "
                "must set FLOWYARD_OIDC_USERNAME_CLAIM to a claim it sends (e.g. email) or add the claim's scope to "
                "FLOWYARD_OIDC_SCOPES.", extra={"claim": config.oidc_username_claim},
            )
        if not USERNAME_PATTERN.match(username):
            raise SignInRefused(
                f"The {config.oidc_username_claim!r} claim {username[:60]!r} cannot be a username (letters, digits and "
                "@.+-_ only, at most 150); a platform admin should pick another FLOWYARD_OIDC_USERNAME_CLAIM.",
                extra={"claim": config.oidc_username_claim},
            )
        forge_login = str(claims.get(config.oidc_forge_claim) or "").strip() if config.oidc_forge_claim else ""
        return cls(
            issuer=issuer, subject=subject, username=username, email=str(claims.get("email") or "")[:254],
            name=str(claims.get("name") or "")[:300], groups=groups_of(claims, config.oidc_groups_claim),
            forge_login=forge_login,
        )

    @property
    def first_and_last_name(self) -> tuple[str, str]:
        """The name split for Django's user model (first word, the rest)."""
        first, _, last = self.name.partition(" ")
        return first[:150], last[:150]


def groups_of(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    """The groups a claim lists: a JSON list of names (or one name); anything else counts as no group."""
    value = claims.get(claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(sorted({str(group) for group in value if isinstance(group, (str, int)) and str(group)}))


def has_groups_claim(claims: Mapping[str, Any], claim: str) -> bool:
    """True when the claims carry the groups claim at all (else the userinfo endpoint is asked)."""
    return claim in claims
