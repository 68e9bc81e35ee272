"""Environments of a project and which workflow version is deployed to each."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models import Project
from controlplane.tenancy.models.teams import slug_validator


class EnvironmentKind(models.TextChoices):
    """A standing stage of the promotion order, or a merge request's short-lived preview."""

    STANDARD = "standard"
    PREVIEW = "preview"


class Environment(UUIDModel):
    """A stage a version passes through (`test`, then `production`), ordered for promotion; or a merge request's
    preview (`mr-<number>`), which uses its base environment's secrets, runtime and config overrides."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=63, validators=[slug_validator])
    order = models.PositiveSmallIntegerField(help_text="Promotion order: versions move to a higher order.")
    requires_approval = models.BooleanField(
        default=False, help_text="Versions reach this environment only through an approved promotion."
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=1, help_text="How many approvers other than the change's author must approve a promotion here "
                             "(1: four eyes).",
    )
    description = models.TextField(blank=True)
    runtime = models.ForeignKey(
        "runtimes.RuntimeTarget", null=True, blank=True, on_delete=models.PROTECT, related_name="environments",
        help_text="Where this environment's runs are launched; empty means the default target.",
    )
    kind = models.CharField(max_length=10, choices=EnvironmentKind.choices, default=EnvironmentKind.STANDARD)
    base_environment = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="previews",
        help_text="A preview's base (test): its secrets, runtime target and config overrides are the preview's.",
    )
    merge_request_iid = models.PositiveIntegerField(null=True, blank=True)
    merge_request_url = models.URLField(max_length=500, blank=True)
    source_branch = models.CharField(max_length=255, blank=True)
    author = models.CharField(max_length=255, blank=True, help_text="Who opened the merge request (forge login).")
    last_pipeline_at = models.DateTimeField(
        null=True, blank=True, help_text="A preview's latest pipeline; after the TTL without one it is torn down.",
    )
    torn_down_at = models.DateTimeField(
        null=True, blank=True, help_text="When the preview was torn down (its runs and history are kept).",
    )

    class Meta:
        ordering = ["project__slug", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_environment_name_per_project"),
            models.UniqueConstraint(fields=["project", "order"], condition=models.Q(kind="standard"),
                                    name="unique_environment_order_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.name}"

    @property
    def is_preview(self) -> bool:
        """True for a merge request's preview environment."""
        return self.kind == EnvironmentKind.PREVIEW

    @property
    def is_live(self) -> bool:
        """False once a preview has been torn down: nothing may be deployed or run there any more."""
        return self.torn_down_at is None

    @property
    def settings_source(self) -> "Environment":
        """The environment whose secrets and runtime target this one uses: a preview's base (test, never
        production), everyone else itself."""
        return self.base_environment if self.is_preview and self.base_environment is not None else self

    @property
    def config_name(self) -> str:
        """Whose `environments.<name>` overrides of flowyard.json apply here: a preview takes its base's."""
        return self.settings_source.name


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
