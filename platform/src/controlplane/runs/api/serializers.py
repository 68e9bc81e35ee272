"""Run API serializers."""

from rest_framework import serializers

from controlplane.api.fields import ProjectObjectField
from controlplane.deployments.models import Deployment
from controlplane.runs.follow import MAX_WAIT_SECONDS
from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.runs.models.runs import MAX_EARLIER_ATTEMPTS
from flowyard_spec.api import MAX_UPSTREAM_KEYS


class RunSerializer(serializers.ModelSerializer):
    """A run with its state, timing and resource use."""

    project = serializers.UUIDField(source="deployment.environment.project_id", read_only=True)
    workflow = serializers.UUIDField(source="deployment.workflow_id", read_only=True)
    workflow_name = serializers.CharField(source="deployment.workflow.name", read_only=True)
    environment = serializers.UUIDField(source="deployment.environment_id", read_only=True)
    environment_name = serializers.CharField(source="deployment.environment.name", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id", "project", "workflow", "workflow_name", "environment", "environment_name", "deployment", "version",
            "state", "reason", "message", "trigger", "triggered_by_label", "parameters", "scheduled_for", "attempt",
            "user_error_retries", "crash_retries", "retry_of", "upstream_run", "backfill", "late_at", "late_reason",
            "created_at", "state_changed_at", "started_at",
            "ended_at", "heartbeat_at", "exit_code", "peak_memory_bytes", "cpu_seconds",
        ]


class RunTriggerSerializer(serializers.Serializer):
    """Input to start a run of a deployment's current version."""

    deployment = ProjectObjectField(
        queryset=Deployment.objects.select_related("workflow", "environment__project", "version"),
        project_path="environment.project",
    )
    parameters = serializers.DictField(required=False, default=dict, help_text="Overrides of declared parameters.")


class RunCancelSerializer(serializers.Serializer):
    """Input to cancel a run (nothing is needed)."""


class TaskAttemptSerializer(serializers.Serializer):
    """An earlier attempt of a task run, as it was when the runner reported the next one."""

    attempt = serializers.IntegerField(read_only=True)
    state = serializers.CharField(read_only=True, help_text="How the attempt ended, usually RETRYING.")
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)


class TaskRunSerializer(serializers.ModelSerializer):
    """One task of a run: its latest attempt (state, attempt, started_at, ended_at, error) and the earlier ones."""

    upstream = serializers.ListField(
        child=serializers.CharField(), source="upstream_keys", read_only=True,
        help_text="Task keys of the task runs this one was given (its futures or their results): the run's "
                  f"dependency graph. Sorted; at most {MAX_UPSTREAM_KEYS:,}; empty when there were none or the "
                  "runner is older.",
    )
    attempts = TaskAttemptSerializer(
        many=True, read_only=True,
        help_text=f"The earlier attempts when the task was retried, oldest first (empty when it was not); at most "
                  f"the last {MAX_EARLIER_ATTEMPTS}. The latest attempt is the task run's own fields.",
    )

    class Meta:
        model = TaskRun
        fields = ["id", "task_key", "name", "state", "attempt", "attempts", "map_index", "tags", "upstream",
                  "started_at", "ended_at", "error"]


class LogLineSerializer(serializers.ModelSerializer):
    """One log line."""

    class Meta:
        model = RunLogLine
        fields = ["seq", "at", "stream", "level", "task_key", "message"]


class LogPageSerializer(serializers.Serializer):
    """A page of log lines after a sequence cursor; pass `next_after` as `after` to continue until `done`."""

    lines = LogLineSerializer(many=True)
    next_after = serializers.IntegerField(help_text="The sequence number of the last line returned (else `after`).")
    run_state = serializers.CharField(help_text="The run's state, read before the lines.")
    done = serializers.BooleanField(
        help_text="True when the run has ended and no line is left after `next_after`: a follower stops here."
    )


class LogQuerySerializer(serializers.Serializer):
    """Query parameters of the log endpoint."""

    after = serializers.IntegerField(
        min_value=0, required=False, default=0, help_text="Return lines with a sequence number above this."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=5000, required=False, default=500, help_text="At most this many lines."
    )
    wait = serializers.FloatField(
        min_value=0, max_value=MAX_WAIT_SECONDS, required=False, default=0,
        help_text=f"Long poll: when no line is after `after` and the run has not ended, wait up to this many "
                  f"seconds (at most {MAX_WAIT_SECONDS}) for a line or the run's end. 0 answers at once.",
    )
