"""A runtime target: one Docker host group, ECS cluster or local machine that runs workloads."""

from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models.teams import slug_validator


class RuntimeTarget(UUIDModel):
    """Where runs of an environment are launched; platform staff manage targets, environments pick one."""

    KINDS = [("docker", "Docker hosts"), ("ecs", "AWS ECS / Fargate"), ("local", "local processes")]

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    kind = models.CharField(max_length=10, choices=KINDS)
    settings = models.JSONField(default=dict, blank=True, help_text="The backend's settings (hosts, cluster, …).")
    is_default = models.BooleanField(default=False, help_text="Used by environments that name no target.")
    max_concurrent_runs = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="one_default_target")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
