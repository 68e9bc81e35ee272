"""Reads of tenancy objects, always scoped to what the given user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from controlplane.tenancy.models import GroupMapping, PersonalToken, Project, ProjectMembership, ProjectToken, Team, TeamMembership
from controlplane.tenancy.principals import is_ci, is_person, is_runner
from controlplane.tenancy.roles import ROLE_PERMISSIONS
from flowyard_spec.states import Role


def project_list(*, user: object, role: Role = Role.VIEWER) -> QuerySet[Project]:
    """Projects on which the user holds at least `role` (CI tokens: their own project, for CI actions)."""
    if not getattr(user, "is_authenticated", False) or is_runner(user):
        return Project.objects.none()
    if is_ci(user):
        return Project.objects.filter(pk=user.project_id)
    if user.is_superuser:
        return Project.objects.all()
    return get_objects_for_user(
        user, [f"tenancy.{codename}" for codename in ROLE_PERMISSIONS[role]], klass=Project, accept_global_perms=False
    ).select_related("team")


def project_directory(*, user: object) -> QuerySet[Project]:
    """Project records the user may see: their projects, and every project for platform staff.

    Staff manage teams and create projects, so they see every project's name and team; what is inside
    a project (workflows, runs, members) still follows `project_list`, i.e. their own roles.
    """
    if is_person(user) and user.is_staff:
        return Project.objects.select_related("team")
    return project_list(user=user)


def team_list(*, user: object) -> QuerySet[Team]:
    """Teams the user belongs to or holds a project role in; staff see every team."""
    if not is_person(user):
        return Team.objects.none()
    if user.is_superuser or user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(
        Q(memberships__user=user) | Q(projects__in=project_list(user=user))
    ).distinct()


def team_member_list(*, user: object) -> QuerySet[TeamMembership]:
    """Memberships of the teams the user can see."""
    return TeamMembership.objects.filter(team__in=team_list(user=user)).select_related("team", "user")


def project_member_list(*, user: object) -> QuerySet[ProjectMembership]:
    """Direct memberships of the projects the user can see."""
    return ProjectMembership.objects.filter(project__in=project_list(user=user)).select_related("project", "user")


def ci_token_list(*, user: object) -> QuerySet[ProjectToken]:
    """CI tokens (name, prefix, dates; never the value) of the projects the user can see."""
    return ProjectToken.objects.filter(project__in=project_list(user=user)).select_related("project")


def personal_token_list(*, user: object) -> QuerySet[PersonalToken]:
    """The user's own personal tokens."""
    if not is_person(user):
        return PersonalToken.objects.none()
    return PersonalToken.objects.filter(user=user)


def group_mapping_list(*, user: object) -> QuerySet[GroupMapping]:
    """SSO group mappings: every one for platform staff; the mappings of their own teams for others."""
    if not is_person(user):
        return GroupMapping.objects.none()
    mappings = GroupMapping.objects.select_related("team")
    if user.is_superuser or user.is_staff:
        return mappings
    return mappings.filter(team__memberships__user=user)
