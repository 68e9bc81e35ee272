"""SSO group mappings: an identity provider's group gives its members a role on a team."""

from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models.memberships import ROLE_CHOICES
from controlplane.tenancy.models.teams import Team


class GroupMapping(UUIDModel):
    """Members of the IdP group `group` get `role` on every project of `team` (the highest of their groups wins)."""

    group = models.CharField(
        max_length=255, help_text="The group exactly as the provider's groups claim lists it (a name, path or id)."
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["group", "team__slug"]
        constraints = [models.UniqueConstraint(fields=["group", "team"], name="one_mapping_per_group_team")]

    def __str__(self) -> str:
        return f"{self.group} → {self.team.slug}:{self.role}"
