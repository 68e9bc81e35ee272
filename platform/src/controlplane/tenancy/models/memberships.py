"""Who holds which role: team memberships (all the team's projects) and project memberships."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models.teams import Project, Team
from flowyard_spec.states import Role

ROLE_CHOICES = [(role.value, role.value) for role in Role]


class TeamGroup(models.Model):
    """The auth group holding one role of one team; project permissions are granted to it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="role_groups")
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="flowyard_team_group")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "role"], name="one_group_per_team_role")]

    def __str__(self) -> str:
        return f"{self.team.slug}:{self.role}"


class TeamMembership(UUIDModel):
    """A user's role on every project of a team."""

    SOURCES = [("manual", "manual"), ("sso", "sso")]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    source = models.CharField(max_length=10, choices=SOURCES, default="manual")

    class Meta:
        ordering = ["team__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of team {self.team}"


class ProjectMembership(UUIDModel):
    """A user's role on one project, in addition to any role their teams give them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)

    class Meta:
        ordering = ["project__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_project_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of project {self.project}"
