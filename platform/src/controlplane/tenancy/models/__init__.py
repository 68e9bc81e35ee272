"""Tenancy models."""

from controlplane.tenancy.models.teams import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission, Team
from controlplane.tenancy.models.memberships import ProjectMembership, TeamGroup, TeamMembership
from controlplane.tenancy.models.tokens import PersonalToken, ProjectToken
from controlplane.tenancy.models.group_mappings import GroupMapping

__all__ = [
    "GroupMapping",
    "PersonalToken",
    "Project",
    "ProjectGroupObjectPermission",
    "ProjectMembership",
    "ProjectToken",
    "ProjectUserObjectPermission",
    "Team",
    "TeamGroup",
    "TeamMembership",
]
