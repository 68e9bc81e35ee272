"""A notification rule: which events of a project, in which environments and workflows, go to which channels."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models.teams import slug_validator


class AlertEvent(models.TextChoices):
    """What a rule can listen to."""

    RUN_FAILED = "run_failed", "a run ended FAILED, TIMED_OUT or CRASHED (its last attempt)"
    RUN_RECOVERED = "run_recovered", "the first success after failures"
    SCHEDULE_LATE = "schedule_late", "a scheduled run did not start within its start deadline"
    RUN_LONG = "run_long", "a run has been running longer than the rule's threshold"
    PROMOTION_PENDING = "promotion_pending", "a promotion waits for approval"
    PROMOTION_DECIDED = "promotion_decided", "a promotion was approved or rejected"
    BUDGET_80 = "budget_80", "the project spent 80 % of its monthly budget"
    BUDGET_100 = "budget_100", "the project spent its whole monthly budget"


class Rule(UUIDModel):
    """Send these events of a project (optionally only some environments and workflows) to these channels."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=63, validators=[slug_validator])
    events = models.JSONField(default=list, help_text="AlertEvent values.")
    environments = models.JSONField(default=list, blank=True, help_text="Environment names; empty: every one.")
    workflows = models.JSONField(default=list, blank=True, help_text="Workflow names; empty: every one.")
    channels = models.ManyToManyField("alerts.Channel", related_name="rules")
    run_long_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="run_long: running longer than this many seconds.")
    run_long_p95_factor = models.FloatField(
        null=True, blank=True,
        help_text="run_long: running longer than this factor × the p95 duration of the workflow's recent successful "
                  "runs in the environment (at least 5 of them).")
    is_enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_alert_rule_name")]

    def __str__(self) -> str:
        return self.name

    def matches(self, *, environment: str | None, workflow: str | None) -> bool:
        """Whether an event in `environment` of `workflow` passes the rule's filters (None: not about one)."""
        if self.environments and environment is not None and environment not in self.environments:
            return False
        return not (self.workflows and workflow is not None and workflow not in self.workflows)
