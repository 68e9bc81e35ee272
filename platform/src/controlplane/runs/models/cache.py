"""Task cache records: which task results are stored, per project environment, so later runs can reuse them."""

from django.db import models

from controlplane.core.models import UUIDModel


class TaskCacheRecord(UUIDModel):
    """A cached task result of one environment: its key, where the runner stored it, and until when it is valid.

    The result itself lives in the environment's result store (a Docker volume of the environment on Docker hosts);
    the record is the index every run of the environment consults, so a second run with the same inputs hits it.
    """

    environment = models.ForeignKey("deployments.Environment", on_delete=models.CASCADE,
                                    related_name="task_cache_records")
    key = models.CharField(max_length=64, help_text="sha256 of the task, its source and its inputs (hex).")
    task_name = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=255, help_text="The result's path inside the environment's result store.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            help_text="The run that stored it.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "key"], name="one_cache_record_per_environment_key"),
        ]
        indexes = [models.Index(fields=["environment", "task_name"], name="cache_record_task_index")]

    def __str__(self) -> str:
        return f"{self.task_name or 'task'} {self.key[:12]}"
