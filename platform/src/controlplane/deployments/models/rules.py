"""What CI pipelines of a project may deploy: the project's release rules, editable by its admins."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from controlplane.core.models import UUIDModel

DEFAULT_PREVIEW_LIMIT = 5
DEFAULT_PREVIEW_TTL_DAYS = 7


def default_branch_patterns() -> list[str]:
    """Every branch: a push to any branch but the default one deploys to the branch environment."""
    return ["*"]


class ReleaseRules(UUIDModel):
    """Where each kind of pipeline's build goes. flowyard.json's `ci` block may narrow these, never widen them.

    - a push to a branch other than the default one whose name matches `branch_patterns`: deployed to
      `branch_environment` (test); other branches are registered only;
    - a merge-request pipeline: deployed to its own preview environment `mr-<number>` when
      `merge_request_previews` is on (at most `preview_limit` live at once, torn down after `preview_ttl_days`
      without a pipeline), else registered only;
    - a push to the default branch: deployed to `branch_environment` and, with `default_branch_promotion`, the
      promotion test → production of that very version is requested.
    Production (any environment that requires approval) is never a deployment target of CI.
    """

    project = models.OneToOneField("tenancy.Project", on_delete=models.CASCADE, related_name="release_rules")
    branch_environment = models.CharField(
        max_length=63, blank=True, default="test",
        help_text="Where branch builds are deployed (an environment that does not require approval); empty: "
                  "register only.",
    )
    branch_patterns = models.JSONField(
        default=default_branch_patterns,
        help_text="Branch name patterns (fnmatch: *, ?, [...]) whose builds are deployed; others are registered only.",
    )
    merge_request_previews = models.BooleanField(
        default=True, help_text="Deploy merge-request builds to a preview environment mr-<number>.",
    )
    preview_limit = models.PositiveSmallIntegerField(
        default=DEFAULT_PREVIEW_LIMIT, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Most live preview environments of the project at once.",
    )
    preview_ttl_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PREVIEW_TTL_DAYS, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days without a pipeline after which a preview is torn down.",
    )
    default_branch_promotion = models.BooleanField(
        default=True, help_text="A default-branch build also requests its promotion test → production.",
    )

    class Meta:
        verbose_name_plural = "release rules"

    @property
    def stage_environment(self) -> str:
        """The standing environment builds are tried in and previews are based on: the branch environment, or
        `test` when branch builds are registered only."""
        return self.branch_environment or "test"

    def __str__(self) -> str:
        return f"release rules of {self.project_id}"
