"""A workflow is a named program of a project; each CI build of it registers an immutable version."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models import Project
from controlplane.tenancy.models.teams import slug_validator

digest_validator = RegexValidator(r"^sha256:[0-9a-f]{64}$", "Use an OCI digest: sha256: followed by 64 hex digits.")
commit_validator = RegexValidator(r"^([0-9a-f]{40}|[0-9a-f]{64})?$", "Use a full 40- or 64-character hex commit sha.")


class Workflow(UUIDModel):
    """A workflow of a project, named as in its repository's flowyard.json."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=63, validators=[slug_validator])
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["project__slug", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_workflow_name_per_project")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


class WorkflowVersion(UUIDModel):
    """One built image of a workflow with the git commit and config it was built from; never changed."""

    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="versions")
    image_ref = models.CharField(max_length=500, help_text="registry/repository:tag the image was pushed as.")
    image_digest = models.CharField(max_length=71, validators=[digest_validator])
    git_repository = models.CharField(max_length=500, blank=True)
    git_commit_sha = models.CharField(max_length=64, blank=True, validators=[commit_validator])
    git_branch = models.CharField(max_length=255, blank=True)
    git_author = models.CharField(max_length=255, blank=True)
    git_message = models.TextField(blank=True)
    ci_pipeline_url = models.URLField(max_length=500, blank=True, help_text="The CI pipeline that built it.")
    merge_request_iid = models.PositiveIntegerField(
        null=True, blank=True, help_text="The merge (pull) request it was built for, by its number in the repository.")
    merge_request_url = models.URLField(max_length=500, blank=True)
    config = models.JSONField(default=dict, help_text="The flowyard.json the image was built from.")
    config_hash = models.CharField(max_length=64, blank=True)
    readme_excerpt = models.TextField(
        blank=True, help_text="The first paragraph of the repository's README, sent by CI when the config has no "
                              "description; the catalog shows it then.")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    registered_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "image_digest"], name="one_version_per_workflow_digest")
        ]

    def __str__(self) -> str:
        return f"{self.workflow}@{self.image_digest[7:19]}"
