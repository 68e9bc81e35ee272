"""A run is one execution of a deployment's version; it has task runs and an ordered log."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel
from flowyard_spec.states import RunReason, RunState, TaskState, TriggerKind


def _choices(enum) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum]


class Run(UUIDModel):
    """One execution of a workflow version in an environment, from trigger to terminal state."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=12, choices=_choices(RunState), default=RunState.QUEUED, db_index=True)
    reason = models.CharField(max_length=20, choices=_choices(RunReason), blank=True)
    message = models.TextField(blank=True, help_text="A human explanation of the last state change.")
    state_changed_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=_choices(TriggerKind), default=TriggerKind.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triggered_by_label = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="The schedule tick this run is for.")
    attempt = models.PositiveSmallIntegerField(default=1)
    user_error_retries = models.PositiveSmallIntegerField(
        default=0, help_text="How many earlier attempts failed by the workflow's fault (config `retries`)."
    )
    crash_retries = models.PositiveSmallIntegerField(
        default=0, help_text="How many earlier attempts crashed (FLOWYARD_CRASH_RETRIES)."
    )
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    upstream_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="downstream_runs",
        help_text="The run whose success started this one (triggers.on_success).",
    )
    backfill = models.ForeignKey(
        "scheduling.Backfill", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
        help_text="The backfill this run belongs to.",
    )
    late_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run was marked late: not started within its start deadline."
    )
    late_reason = models.TextField(blank=True, help_text="Why the late run could not start.")
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    runtime_ref = models.CharField(max_length=255, blank=True, help_text="Container id or ECS task ARN.")
    runtime_target = models.ForeignKey(
        "runtimes.RuntimeTarget", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
        help_text="The target the run was launched on; it is watched and stopped there, whatever its environment "
                  "says later. Empty until launched.",
    )
    token_hash = models.CharField(max_length=64, blank=True, help_text="Hash of the run's own API token.")

    class Meta:
        ordering = ["-created_at", "-id"]
        # The portal's runs page filtered by deployment (environment, workflow) reads newest first without a sort.
        indexes = [models.Index(fields=["deployment", "-created_at", "-id"], name="run_deployment_newest")]
        constraints = [
            # A runner's every request finds its run by the token's hash (runs.authentication): by index, not by
            # reading the whole table. Unique, as the tokens are; runs never launched have none.
            models.UniqueConstraint(fields=["token_hash"], condition=~models.Q(token_hash=""), name="run_token_hash"),
            # Exactly one scheduled run per tick, however many schedulers run. Other runs may carry a tick too
            # (backfills, retries, downstream runs) without competing for it.
            models.UniqueConstraint(
                fields=["deployment", "scheduled_for"],
                condition=models.Q(scheduled_for__isnull=False, trigger=TriggerKind.SCHEDULE.value),
                name="one_run_per_schedule_tick",
            ),
            models.UniqueConstraint(
                fields=["backfill", "scheduled_for"],
                condition=models.Q(backfill__isnull=False, retry_of__isnull=True),
                name="one_run_per_backfill_tick",
            ),
            models.UniqueConstraint(
                fields=["upstream_run", "deployment"],
                condition=models.Q(upstream_run__isnull=False, retry_of__isnull=True),
                name="one_downstream_run_per_upstream_run",
            ),
            models.UniqueConstraint(
                fields=["retry_of"], condition=models.Q(retry_of__isnull=False), name="one_retry_per_run"
            ),
        ]

    @property
    def is_terminal(self) -> bool:
        """True once the run has ended; its state never changes again."""
        return RunState(self.state).is_terminal

    def __str__(self) -> str:
        return f"run {self.pk}"


# How many earlier attempts a task run keeps in TaskRun.attempts: the most recent ones, older ones are dropped.
MAX_EARLIER_ATTEMPTS = 100


class TaskRun(models.Model):
    """One task invocation inside a run, as reported by the runner: its latest attempt, and the earlier ones."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="task_runs")
    task_key = models.CharField(max_length=255, help_text="Unique within the run, e.g. extract-0.")
    name = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=_choices(TaskState), default=TaskState.PENDING)
    attempt = models.PositiveSmallIntegerField(default=1)
    map_index = models.IntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    upstream_keys = models.JSONField(
        default=list, blank=True,
        help_text="Task keys of the task runs this one was given (its futures or their results), as the runner "
                  "reported them: sorted, at most flowyard_spec.api.MAX_UPSTREAM_KEYS.",
    )
    attempts = models.JSONField(
        default=list, blank=True,
        help_text="The earlier attempts of this task run, oldest first: each {attempt, state, started_at, ended_at} "
                  "as stored when the runner reported the next attempt (times in ISO 8601, ended_at may be null). "
                  f"At most the last {MAX_EARLIER_ATTEMPTS}; state, started_at and ended_at are the latest attempt's.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "task_key"], name="unique_task_key_per_run")]

    def __str__(self) -> str:
        return f"{self.task_key} ({self.state})"


class RunLogLine(models.Model):
    """One log line of a run; `seq` orders a run's lines with no gap and no duplicate."""

    STREAMS = [("stdout", "stdout"), ("stderr", "stderr"), ("sdk", "sdk"), ("system", "system")]

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    stream = models.CharField(max_length=8, choices=STREAMS, default="stdout")
    level = models.CharField(max_length=10, blank=True)
    task_key = models.CharField(max_length=255, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_log_seq_per_run")]

    def __str__(self) -> str:
        return f"{self.seq}: {self.message[:60]}"
