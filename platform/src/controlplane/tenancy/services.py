"""Writes to tenancy state: each one atomic, role permissions kept in sync, one audit event."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from controlplane.core.audit import audit_record, snapshot
from controlplane.core.errors import PermissionDenied
from controlplane.core.services import model_update
from controlplane.tenancy.errors import SsoOnly, StillInUse
from controlplane.tenancy.models import (
    PersonalToken,
    Project,
    ProjectMembership,
    ProjectToken,
    Team,
    TeamGroup,
    TeamMembership,
)
from controlplane.tenancy.principals import is_person
from controlplane.tenancy.roles import ALL_ROLE_PERMISSIONS, ROLE_PERMISSIONS
from controlplane.tenancy.signals import project_created
from controlplane.tenancy.tokens import CI_PREFIX, PERSONAL_PREFIX, new_token
from flowyard_spec.states import Role


def _grant_team_groups(team: Team, project: Project) -> None:
    for team_group in team.role_groups.select_related("group"):
        for codename in ROLE_PERMISSIONS[Role(team_group.role)]:
            assign_perm(f"tenancy.{codename}", team_group.group, project)


@transaction.atomic
def team_create(*, actor: Any, slug: str, name: str, description: str = "") -> Team:
    """Create a team and its four role groups."""
    team = Team.objects.create(slug=slug, name=name, description=description)
    for role in Role:
        group = Group.objects.create(name=f"flowyard:team:{team.pk}:{role.value}")
        TeamGroup.objects.create(team=team, role=role.value, group=group)
    audit_record(actor=actor, action="team.created", obj=team, after=snapshot(team), team=team)
    return team


@transaction.atomic
def team_update(*, actor: Any, team: Team, **changes: Any) -> Team:
    """Change a team's name or description."""
    return model_update(actor=actor, obj=team, changes=changes, action="team.updated", team=team)


@transaction.atomic
def team_delete(*, actor: Any, team: Team) -> None:
    """Delete a team that owns no projects any more."""
    if team.projects.exists():
        raise StillInUse(
            f"Team {team.slug} still owns {team.projects.count()} project(s); move or delete them first.",
            code="team_not_empty",
        )
    before = snapshot(team)
    audit_record(actor=actor, action="team.deleted", obj=team, before=before, team=None)
    Group.objects.filter(flowyard_team_group__team=team).delete()
    team.delete()


def _team_group(team: Team, role: Role) -> Group:
    return TeamGroup.objects.select_related("group").get(team=team, role=role.value).group


def _refuse_hand_made_when_sso_only(where: str) -> None:
    if settings.FLOWYARD.sso_only:
        raise SsoOnly(
            f"Roles on {where} come only from SSO groups on this installation (FLOWYARD_SSO_ONLY=1); map the "
            "person's identity-provider group to the team instead (POST /api/v1/group-mappings/).",
            extra={"setting": "FLOWYARD_SSO_ONLY"},
        )


@transaction.atomic
def team_member_set(*, actor: Any, team: Team, user: Any, role: Role, source: str = "manual") -> TeamMembership:
    """Give `user` the role `role` on every project of `team` (creating or changing the membership)."""
    if source != "sso":
        _refuse_hand_made_when_sso_only(f"team {team.slug}")
    membership = TeamMembership.objects.select_for_update().filter(team=team, user=user).first()
    before = snapshot(membership)
    if membership is None:
        membership = TeamMembership.objects.create(team=team, user=user, role=role.value, source=source)
        action = "team_member.added"
    else:
        membership.role, membership.source = role.value, source
        membership.save(update_fields=["role", "source", "updated_at"])
        action = "team_member.updated"
    user.groups.remove(*Group.objects.filter(flowyard_team_group__team=team))
    user.groups.add(_team_group(team, role))
    audit_record(actor=actor, action=action, obj=membership, before=before, after=snapshot(membership), team=team)
    return membership


@transaction.atomic
def team_member_remove(*, actor: Any, membership: TeamMembership) -> None:
    """Take a user out of a team: they lose the team's role on all its projects."""
    before = snapshot(membership)
    membership.user.groups.remove(*Group.objects.filter(flowyard_team_group__team=membership.team))
    audit_record(actor=actor, action="team_member.removed", obj=membership, before=before, team=membership.team)
    membership.delete()


@transaction.atomic
def project_create(*, actor: Any, team: Team, slug: str, name: str, description: str = "") -> Project:
    """Create a project; the team's roles apply to it, and `project_created` gives it its environments."""
    project = Project.objects.create(team=team, slug=slug, name=name, description=description)
    _grant_team_groups(team, project)
    project_created.send(sender=Project, project=project)
    environments = project.environments.order_by("order").values_list("name", flat=True)
    after = snapshot(project) | {"environments": list(environments)}
    audit_record(actor=actor, action="project.created", obj=project, after=after, project=project)
    return project


PROJECT_QUOTA_FIELDS = ("max_cpu_per_run", "max_memory_mib_per_run", "max_concurrent_runs")


def _is_platform_staff(actor: Any) -> bool:
    """Staff and superusers are platform staff; None is the system (migrations, management commands)."""
    return actor is None or (is_person(actor) and (actor.is_staff or actor.is_superuser))


@transaction.atomic
def project_update(*, actor: Any, project: Project, **changes: Any) -> Project:
    """Change a project's name or description, and its quotas when `actor` is platform staff."""
    quotas = [name for name in PROJECT_QUOTA_FIELDS if name in changes and changes[name] != getattr(project, name)]
    if quotas and not _is_platform_staff(actor):
        raise PermissionDenied(
            f"Only platform staff may change a project's quotas ({', '.join(quotas)}); ask them to.",
            extra={"quotas": quotas},
        )
    return model_update(actor=actor, obj=project, changes=changes, action="project.updated", project=project)


@transaction.atomic
def project_delete(*, actor: Any, project: Project) -> None:
    """Delete a project that has no workflows (its environments, members and tokens go with it)."""
    if project.workflows.exists():
        raise StillInUse(
            f"Project {project.slug} still has workflows; delete them first.", code="project_not_empty"
        )
    audit_record(actor=actor, action="project.deleted", obj=project, before=snapshot(project), team=project.team)
    project.delete()


def _set_user_project_perms(user: Any, project: Project, role: Role | None) -> None:
    for codename in ALL_ROLE_PERMISSIONS:
        remove_perm(f"tenancy.{codename}", user, project)
    if role is not None:
        for codename in ROLE_PERMISSIONS[role]:
            assign_perm(f"tenancy.{codename}", user, project)


@transaction.atomic
def project_member_set(*, actor: Any, project: Project, user: Any, role: Role) -> ProjectMembership:
    """Give `user` the role `role` on `project` directly (creating or changing the membership)."""
    _refuse_hand_made_when_sso_only(f"project {project.slug}")
    membership = ProjectMembership.objects.select_for_update().filter(project=project, user=user).first()
    before = snapshot(membership)
    if membership is None:
        membership = ProjectMembership.objects.create(project=project, user=user, role=role.value)
        action = "project_member.added"
    else:
        membership.role = role.value
        membership.save(update_fields=["role", "updated_at"])
        action = "project_member.updated"
    _set_user_project_perms(user, project, role)
    audit_record(actor=actor, action=action, obj=membership, before=before, after=snapshot(membership), project=project)
    return membership


@transaction.atomic
def project_member_remove(*, actor: Any, membership: ProjectMembership) -> None:
    """Remove a user's direct role on a project (a team role, if any, still applies)."""
    before = snapshot(membership)
    _set_user_project_perms(membership.user, membership.project, None)
    audit_record(
        actor=actor, action="project_member.removed", obj=membership, before=before, project=membership.project
    )
    membership.delete()


def _default_personal_expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=90)


@transaction.atomic
def personal_token_create(
    *, actor: Any, name: str, expires_at: datetime.datetime | None = None
) -> tuple[PersonalToken, str]:
    """Create a personal token for `actor`; returns the token and its value, which is never shown again."""
    limit = timezone.now() + datetime.timedelta(days=settings.FLOWYARD.personal_token_max_days)
    expires_at = expires_at or _default_personal_expiry()
    value, prefix, hashed = new_token(PERSONAL_PREFIX)
    token = PersonalToken.objects.create(
        user=actor, name=name, prefix=prefix, token_hash=hashed, expires_at=min(expires_at, limit)
    )
    audit_record(actor=actor, action="personal_token.created", obj=token, after=snapshot(token))
    return token, value


@transaction.atomic
def personal_token_revoke(*, actor: Any, token: PersonalToken) -> PersonalToken:
    """Revoke a personal token at once (idempotent)."""
    return _revoke(actor=actor, token=token, action="personal_token.revoked")


@transaction.atomic
def ci_token_create(
    *, actor: Any, project: Project, name: str, expires_at: datetime.datetime | None = None
) -> tuple[ProjectToken, str]:
    """Create a CI token for `project`; returns the token and its value, which is never shown again."""
    value, prefix, hashed = new_token(CI_PREFIX)
    token = ProjectToken.objects.create(
        project=project, name=name, prefix=prefix, token_hash=hashed, expires_at=expires_at, created_by=actor
    )
    audit_record(actor=actor, action="ci_token.created", obj=token, after=snapshot(token), project=project)
    return token, value


@transaction.atomic
def ci_token_revoke(*, actor: Any, token: ProjectToken) -> ProjectToken:
    """Revoke a CI token at once (idempotent)."""
    return _revoke(actor=actor, token=token, action="ci_token.revoked", project=token.project)


def _revoke(*, actor: Any, token: Any, action: str, project: Project | None = None) -> Any:
    if token.revoked_at is not None:
        return token
    before = snapshot(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(actor=actor, action=action, obj=token, before=before, after=snapshot(token), project=project)
    return token
