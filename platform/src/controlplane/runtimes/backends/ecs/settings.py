"""An ECS runtime target's settings, checked once, and whether Fargate accepts a task size (the table of sizes
is `flowyard_spec.quantities.FARGATE_MEMORY`, shared with the config file's validation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from flowyard_spec.quantities import FARGATE_MEMORY

MAX_STOP_TIMEOUT = 120  # seconds: the most Fargate allows for a container's stopTimeout


class SettingsError(ValueError):
    """The target's settings are incomplete or wrong; the message names every problem."""


def fargate_size_error(cpu_units: int, memory_mib: int) -> str | None:
    """Why Fargate would refuse a task of this size, with the nearest sizes it accepts (None: accepted)."""
    allowed = FARGATE_MEMORY.get(cpu_units)
    if allowed is None:
        return (f"Fargate has no task size with cpu {cpu_units}; cpu must be one of "
                f"{', '.join(map(str, FARGATE_MEMORY))} (1024 = one vCPU).")
    if memory_mib not in allowed:
        return (f"Fargate has no task size with cpu {cpu_units} and memory {memory_mib} MiB; with cpu {cpu_units} "
                f"memory must be one of {', '.join(map(str, allowed))} MiB.")
    return None


@dataclass(frozen=True)
class EcsSettings:
    """Where and how runs are launched on ECS/Fargate; credentials come from the normal boto3 chain only."""

    region: str
    cluster: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()  # empty: the VPC's default security group
    assign_public_ip: str = "DISABLED"
    execution_role_arn: str | None = None  # AWS requires one for the awslogs driver and private ECR images
    task_role_arn: str | None = None
    log_group: str = "/flowyard/runs"
    endpoint_url: str | None = None  # tests: the moto server; production: unset (AWS's own endpoints)
    platform_version: str = "LATEST"
    stop_grace_seconds: int = 30  # the container's stopTimeout: SIGTERM, then SIGKILL this much later
    log_page_size: int = 10000  # events per GetLogEvents call (10000 is AWS's maximum)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3  # botocore "standard" retry mode, first try included
    result_bucket: str | None = None  # S3 bucket of cached task results; unset: runs on this target cache nothing
    result_prefix: str = "flowyard-results"  # objects are <prefix>/<environment id>/<location>
    result_url_seconds: int = 900  # how long a URL the control plane signs for a runner stays valid

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> EcsSettings:
        """Settings from a target's JSON; SettingsError naming every missing, unknown or invalid key."""
        known = {f.name for f in fields(cls)}
        problems = [f"unknown setting {key!r}" for key in sorted(set(raw) - known)]
        problems += [f"{key!r} is required" for key in ("region", "cluster", "subnets") if not raw.get(key)]
        values: dict[str, Any] = {key: value for key, value in raw.items() if key in known and value is not None}
        for key in ("subnets", "security_groups"):
            value = values.get(key, ())
            if isinstance(value, str) or not all(isinstance(item, str) for item in value):
                problems.append(f"{key!r} must be a list of IDs")
            else:
                values[key] = tuple(value)
        if values.get("assign_public_ip", "DISABLED") not in ("ENABLED", "DISABLED"):
            problems.append("'assign_public_ip' must be ENABLED or DISABLED")
        for key, kind in (("stop_grace_seconds", int), ("log_page_size", int), ("max_attempts", int),
                          ("connect_timeout", float), ("read_timeout", float), ("result_url_seconds", int)):
            if key in values:
                try:
                    values[key] = kind(values[key])
                except (TypeError, ValueError):
                    problems.append(f"{key!r} must be a number")
        if not 1 <= values.get("stop_grace_seconds", 30) <= MAX_STOP_TIMEOUT:
            problems.append(f"'stop_grace_seconds' must be between 1 and {MAX_STOP_TIMEOUT} (Fargate's limit)")
        if not 1 <= values.get("log_page_size", 10000) <= 10000:
            problems.append("'log_page_size' must be between 1 and 10000")
        if not 60 <= values.get("result_url_seconds", 900) <= 43200:
            problems.append("'result_url_seconds' must be between 60 and 43200 (12 hours)")
        prefix = values.get("result_prefix", "flowyard-results")
        if not isinstance(prefix, str) or not prefix.strip("/") or prefix != prefix.strip("/"):
            problems.append("'result_prefix' must be a non-empty S3 key prefix without a leading or trailing '/'")
        if problems:
            raise SettingsError("ECS runtime target settings: " + "; ".join(problems) + ".")
        return cls(**values)
