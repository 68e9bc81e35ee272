"""Teams own projects; a project's object permissions carry the roles (django-guardian)."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from controlplane.core.models import UUIDModel

slug_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


def validate_timezone(value: str) -> None:
    """Refuse a name that is not an IANA time zone (e.g. Europe/Paris, UTC)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone; use an IANA name such as Europe/Paris or UTC.") from None


class Team(UUIDModel):
    """A group of people; membership in a team grants a role on all of the team's projects."""

    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Project(UUIDModel):
    """The unit of tenancy: workflows, environments, runs and roles all belong to one project."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="projects")
    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone],
        help_text="The IANA time zone the portal shows the project's times in (schedules keep their own).",
    )
    # Quotas: empty means no limit. Only platform staff change them (tenancy.services.project_update).
    max_cpu_per_run = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(128)],
        help_text="Most CPU units (1024 = one vCPU) a run may ask for; a config above it is refused at registration.",
    )
    max_memory_mib_per_run = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(128)],
        help_text="Most memory in MiB a run may ask for; a config above it is refused at registration.",
    )
    max_concurrent_runs = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Most runs of the project's deployments starting or running at once; more wait in QUEUED.",
    )

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("operate_project", "Trigger and cancel runs, manage test deployments"),
            ("approve_project", "Approve promotions"),
            ("administer_project", "Manage members, environments, secrets and CI tokens"),
        ]

    def __str__(self) -> str:
        return self.slug


class ProjectUserObjectPermission(UserObjectPermissionBase):
    """A role permission granted to one user on one project (deleted with the project)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class ProjectGroupObjectPermission(GroupObjectPermissionBase):
    """A role permission granted to a team's role group on one project (deleted with the project)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)
