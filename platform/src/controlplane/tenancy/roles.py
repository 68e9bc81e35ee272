"""Roles are sets of guardian permissions on a Project; this module is the one mapping between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guardian.core import ObjectPermissionChecker

from controlplane.tenancy.models import Project, Team, TeamMembership
from controlplane.tenancy.principals import is_ci
from flowyard_spec.states import Role

VIEW = "view_project"
OPERATE = "operate_project"
APPROVE = "approve_project"
ADMINISTER = "administer_project"

ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: (VIEW,),
    Role.DEVELOPER: (VIEW, OPERATE),
    Role.APPROVER: (VIEW, OPERATE, APPROVE),
    Role.ADMIN: (VIEW, OPERATE, APPROVE, ADMINISTER),
}
ALL_ROLE_PERMISSIONS: tuple[str, ...] = ROLE_PERMISSIONS[Role.ADMIN]


def role_from_permissions(codenames: set[str]) -> Role | None:
    """The highest role whose permissions are all in `codenames`."""
    for role in reversed(Role):
        if set(ROLE_PERMISSIONS[role]) <= codenames:
            return role
    return None


def role_for(user: object, project: Project) -> Role | None:
    """The user's effective role on the project: the highest of their team and project roles."""
    if is_ci(user) or not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    return role_from_permissions(set(ObjectPermissionChecker(user).get_perms(project)))


def roles_for(user: object, projects: Sequence[Project]) -> dict[Any, Role | None]:
    """The user's effective role on each of `projects`, by primary key, in a fixed number of queries (guardian's
    prefetch: one for the user's own permissions, one for their groups'), however many projects there are."""
    if is_ci(user) or not getattr(user, "is_authenticated", False):
        return {project.pk: None for project in projects}
    if user.is_superuser:
        return {project.pk: Role.ADMIN for project in projects}
    checker = ObjectPermissionChecker(user)
    if projects:
        checker.prefetch_perms(projects)
    return {project.pk: role_from_permissions(set(checker.get_perms(project))) for project in projects}


def has_role(user: object, project: Project, role: Role) -> bool:
    """True when the user's role on the project includes `role`."""
    actual = role_for(user, project)
    return actual is not None and actual.includes(role)


def team_role_for(user: object, team: Team) -> Role | None:
    """The user's role on `team` from their team membership (superusers are admin of every team)."""
    if is_ci(user) or not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    role = TeamMembership.objects.filter(team=team, user=user).values_list("role", flat=True).first()
    return Role(role) if role else None


def is_platform_staff(user: object) -> bool:
    """Platform staff run the installation (teams, projects, quotas); it is not a role on any project."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False)) and not is_ci(user)
