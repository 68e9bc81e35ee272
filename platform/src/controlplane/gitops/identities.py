"""Who a forge user is in Flowyard, and who acts when the forge does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from controlplane.gitops.models import ForgeIdentity, RepositoryLink
from controlplane.tenancy.principals import TokenPrincipal

EMAIL_IN_AUTHOR = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


@dataclass(frozen=True)
class ForgePrincipal(TokenPrincipal):
    """The forge acting through a verified webhook of `link` (a merge, a close): audited as
    `forge:<forge>:<repository>` with the forge user who did it."""

    forge: str
    repository: str
    forge_user: str = ""

    @property
    def audit_label(self) -> str:
        """`forge:gitlab:group/name (by login)`."""
        return f"forge:{self.forge}:{self.repository}" + (f" (by {self.forge_user})" if self.forge_user else "")


def forge_principal(link: RepositoryLink, forge_user: str = "") -> ForgePrincipal:
    """The principal of `link`'s deliveries."""
    return ForgePrincipal(forge=link.forge, repository=link.repository_path, forge_user=forge_user)


def matched_user(forge: str, username: str) -> Any | None:
    """The Flowyard user matched to forge login `username`, or None (an unmatched forge user approves nothing)."""
    if not username:
        return None
    identity = ForgeIdentity.objects.filter(forge=forge, username=username.lower()).select_related("user").first()
    return identity.user if identity is not None and identity.user.is_active else None


def author_users(forge: str, author: str) -> set[Any]:
    """The users a version's or merge request's author field names: a forge login through the identity table,
    or a "Name <email>" git author through the user's e-mail."""
    users = set()
    if user := matched_user(forge, author.strip()):
        users.add(user)
    if email := EMAIL_IN_AUTHOR.search(author or ""):
        users.update(get_user_model().objects.filter(email__iexact=email.group(1)))
    return users
