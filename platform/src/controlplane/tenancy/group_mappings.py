"""SSO group mappings: their writes (platform staff), and the sync of a person's team memberships from their groups.

At every sign-in (and every periodic re-check) `memberships_sync` makes a person's team memberships what their
groups say: the highest role any of their groups gives on each team. Memberships made that way are marked
`source="sso"`; a hand-made one on a team a group also maps becomes an SSO one. Memberships no group gives any more
are removed when they came from groups, and hand-made ones stay unless `FLOWYARD_SSO_ONLY` is on. Every change
goes through the membership services, so permissions follow and each change is an audit event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from controlplane.core.audit import audit_record, snapshot
from controlplane.core.services import model_update
from controlplane.tenancy.models import GroupMapping, ProjectMembership, Team, TeamMembership
from controlplane.tenancy.services import project_member_remove, team_member_remove, team_member_set
from flowyard_spec.states import Role

SSO_SOURCE = "sso"


@dataclass(frozen=True)
class MembershipChange:
    """One change a sync made: `kind` is added, raised, lowered, adopted (a hand-made one now from groups) or removed."""

    kind: str
    scope: str  # "team" or "project"
    slug: str
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe form for audit events and API answers."""
        return {"kind": self.kind, "scope": self.scope, "slug": self.slug, "before": self.before, "after": self.after}


@transaction.atomic
def group_mapping_create(*, actor: Any, group: str, team: Team, role: Role, description: str = "") -> GroupMapping:
    """Map an IdP group to a role on a team (it applies at each member's next sign-in or re-check)."""
    mapping = GroupMapping.objects.create(group=group, team=team, role=role.value, description=description)
    audit_record(actor=actor, action="group_mapping.created", obj=mapping, after=snapshot(mapping), team=team)
    return mapping


@transaction.atomic
def group_mapping_update(*, actor: Any, mapping: GroupMapping, **changes: Any) -> GroupMapping:
    """Change a mapping's role or description."""
    if isinstance(changes.get("role"), Role):
        changes["role"] = changes["role"].value
    return model_update(actor=actor, obj=mapping, changes=changes, action="group_mapping.updated", team=mapping.team)


@transaction.atomic
def group_mapping_delete(*, actor: Any, mapping: GroupMapping) -> None:
    """Remove a mapping; members lose the role it gave at their next sign-in or re-check."""
    audit_record(actor=actor, action="group_mapping.deleted", obj=mapping, before=snapshot(mapping), team=mapping.team)
    mapping.delete()


def roles_from_groups(groups: Iterable[str]) -> dict[Team, Role]:
    """The role each team gives a person in `groups`: the highest any of their groups maps to."""
    best: dict[Team, Role] = {}
    for mapping in GroupMapping.objects.filter(group__in=list(groups)).select_related("team"):
        role = Role(mapping.role)
        if mapping.team not in best or role.rank > best[mapping.team].rank:
            best[mapping.team] = role
    return best


def _kind(before: TeamMembership | None, role: Role) -> str:
    if before is None:
        return "added"
    if role.rank != Role(before.role).rank:
        return "raised" if role.rank > Role(before.role).rank else "lowered"
    return "adopted"


@transaction.atomic
def memberships_sync(*, actor: Any, user: Any, groups: Iterable[str]) -> list[MembershipChange]:
    """Make `user`'s memberships what `groups` give (see the module's docstring); returns what changed."""
    desired = roles_from_groups(groups)
    existing = {m.team_id: m for m in TeamMembership.objects.select_for_update().filter(user=user).select_related("team")}
    changes: list[MembershipChange] = []
    for team, role in sorted(desired.items(), key=lambda item: item[0].slug):
        current = existing.get(team.pk)
        if current is not None and current.source == SSO_SOURCE and current.role == role.value:
            continue
        changes.append(MembershipChange(_kind(current, role), "team", team.slug, current.role if current else None,
                                        role.value))
        team_member_set(actor=actor, team=team, user=user, role=role, source=SSO_SOURCE)
    sso_only = settings.FLOWYARD.sso_only
    for team_id, membership in existing.items():
        if team_id in {team.pk for team in desired} or (membership.source != SSO_SOURCE and not sso_only):
            continue
        changes.append(MembershipChange("removed", "team", membership.team.slug, membership.role, None))
        team_member_remove(actor=actor, membership=membership)
    if sso_only:  # project memberships are always hand-made
        for membership in ProjectMembership.objects.filter(user=user).select_related("project", "project__team"):
            changes.append(MembershipChange("removed", "project", membership.project.slug, membership.role, None))
            project_member_remove(actor=actor, membership=membership)
    return changes


def has_any_membership(user: Any) -> bool:
    """True when the user holds a role through any team or project membership."""
    return TeamMembership.objects.filter(user=user).exists() or ProjectMembership.objects.filter(user=user).exists()
