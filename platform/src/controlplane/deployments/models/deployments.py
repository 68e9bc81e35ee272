"""Environments of a project and which workflow version is deployed to each."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models import Project
from controlplane.tenancy.models.teams import slug_validator


class Environment(UUIDModel):
    """A stage a version passes through (`test`, then `production`), ordered for promotion."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=63, validators=[slug_validator])
    order = models.PositiveSmallIntegerField(help_text="Promotion order: versions move to a higher order.")
    requires_approval = models.BooleanField(
        default=False, help_text="Versions reach this environment only through an approved promotion."
    )
    description = models.TextField(blank=True)
    runtime = models.ForeignKey(
        "runtimes.RuntimeTarget", null=True, blank=True, on_delete=models.PROTECT, related_name="environments",
        help_text="Where this environment's runs are launched; empty means the default target.",
    )

    class Meta:
        ordering = ["project__slug", "order"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_environment_name_per_project"),
            models.UniqueConstraint(fields=["project", "order"], name="unique_environment_order_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.name}"


class Deployment(UUIDModel):
    """A workflow in an environment: the version that runs there and whether its schedule is paused."""

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="deployments")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey(
        "workflows.WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="deployments"
    )
    is_paused = models.BooleanField(default=False, help_text="Paused deployments fire no scheduled runs.")
    deployed_at = models.DateTimeField(null=True, blank=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployed_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["workflow__name", "environment__order"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "environment"], name="one_deployment_per_workflow_environment")
        ]

    @property
    def project(self) -> Project:
        """The project the deployment belongs to."""
        return self.environment.project

    def __str__(self) -> str:
        return f"{self.workflow}:{self.environment.name}"
