"""The `ecs` runtime backend: each run is one AWS ECS task on Fargate, launched and watched with boto3.

The same code runs against AWS and, in the tests, against a moto server on 127.0.0.1: only the target's
`endpoint_url` setting differs. Credentials come from boto3's normal chain (environment, profile, instance or
task role), never from the target's settings.

- **Task definitions.** One family per image and size: `flowyard-<sha256(image, cpu, memory)>`, FARGATE,
  awsvpc, one container `workflow` running as user 10001 with a read-only root filesystem (a task volume on
  /tmp), all capabilities dropped, an init process, `stopTimeout` = `stop_grace_seconds`, and the awslogs driver
  (group `log_group`, created when missing; streams `run/workflow/<task id>`). A launch describes the family's
  latest revision and registers a new one only when that one is not ACTIVE or its fingerprint tag (a sha256 of
  the whole registration request) differs, e.g. after the target's roles or log group changed. Registering on
  every launch would also work, but would add a revision per run to the account and spend RegisterTaskDefinition's
  small request quota; the describe is one cheap read.
- **Per-run values are RunTask overrides**, not part of the task definition: the environment (FLOWYARD_*
  variables, parameters, secrets) and the command. Putting them in the task definition would register one
  revision per run and keep every run token and secret forever in the account's task definition history.
  RunTask allows 8192 characters of overrides; a larger environment fails the launch with a clear message.
- **Limitation: secrets are plain environment variables** in the task's overrides, readable by anyone allowed
  `ecs:DescribeTasks` on the cluster while ECS keeps the task. In production they should become the container's
  `secrets` (references to SSM Parameter Store or Secrets Manager, resolved by the execution role), so that no
  value crosses the ECS API.
- **Finding a run's task**: `startedBy` = the run id (36 characters, RunTask's maximum), looked up with
  ListTasks for desired status RUNNING and STOPPED; the task is also tagged with the run's labels and RUN_LABEL.
  `launch` returns the run's existing task instead of starting a second, and passes a `clientToken` so that AWS
  itself answers a repeated RunTask (two racing launches, or ListTasks not yet showing a new task) with the
  first task.
- **remove**: ECS cannot delete a task record (it forgets stopped tasks about an hour later), so `remove` stops
  the task if needed and tags it `org.flowyard.removed=true`; every method then ignores it, so the run's
  workload is MISSING and a later `launch` starts a new task, as with a removed Docker container.
- **Stopping**: `terminate` and `kill` are both StopTask. ECS sends SIGTERM and, `stopTimeout` later, SIGKILL;
  the grace period is the task definition's, not the `grace_seconds` argument, and there is no faster kill.
- Fargate has no pids limit and no `no-new-privileges` option (the task is its own micro-VM); the container
  runs non-root with every capability dropped instead. ECS reports no peak memory or CPU time through
  DescribeTasks (that needs Container Insights), so those stay None.
"""

from controlplane.runtimes.backends.ecs.backend import EcsBackend
from controlplane.runtimes.backends.ecs.settings import EcsSettings, SettingsError, fargate_size_error

__all__ = ["EcsBackend", "EcsSettings", "SettingsError", "fargate_size_error"]
