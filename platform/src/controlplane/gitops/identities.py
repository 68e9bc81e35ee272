"""Who a forge user is in Flowyard, and who acts when the forge does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from controlplane.core.audit import actor_user_and_label
from controlplane.gitops.models import ForgeIdentity, RepositoryLink
from controlplane.tenancy.principals import TokenPrincipal

EMAIL_IN_AUTHOR = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


@dataclass(frozen=True)
class LinkPrincipal(TokenPrincipal):
    """A linked repository acting on its project: `forge` for a verified webhook (a merge, a close), `gitops` for a
    sync from Git. Audited as `<source>:<forge>:<repository> (<who>)`."""

    source: str
    forge: str
    repository: str
    who: str = ""

    @property
    def audit_label(self) -> str:
        """E.g. `forge:gitlab:group/name (by login)` or `gitops:gitlab:group/name (sync by alice)`."""
        return f"{self.source}:{self.forge}:{self.repository}" + (f" ({self.who})" if self.who else "")


def forge_principal(link: RepositoryLink, forge_user: str = "") -> LinkPrincipal:
    """The principal of `link`'s webhook deliveries, naming the forge user who acted."""
    return LinkPrincipal("forge", link.forge, link.repository_path, f"by {forge_user}" if forge_user else "")


def sync_principal(link: RepositoryLink, actor: Any) -> LinkPrincipal:
    """The principal of a sync of `link`, naming who asked for it (none for the periodic task)."""
    return LinkPrincipal("gitops", link.forge, link.repository_path,
                         f"sync by {actor_user_and_label(actor)[1]}" if actor is not None else "")


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
