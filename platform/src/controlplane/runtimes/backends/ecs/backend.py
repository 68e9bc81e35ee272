"""`EcsBackend`: runs as Fargate tasks through boto3 (see the package docstring for the design)."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from flowyard_spec.api import RESULT_STORE_VARIABLE, SIGNED_URLS

from controlplane.runtimes.backends.base import (
    RUN_LABEL,
    LaunchFailed,
    LaunchSpec,
    LogLine,
    RuntimeBackend,
    RuntimeStatus,
    TargetUnavailable,
    WorkloadState,
    of_installation,
)
from controlplane.runtimes.backends.ecs import status as task_state
from controlplane.runtimes.backends.ecs.settings import EcsSettings, SettingsError, fargate_size_error
from controlplane.runtimes.backends.ecs.taskdef import (
    CONTAINER,
    FINGERPRINT_TAG,
    fingerprint,
    log_stream,
    tags_for,
    task_definition_request,
)

logger = logging.getLogger(__name__)

STARTED_BY_MAX = 36  # RunTask's startedBy holds at most 36 characters: exactly a UUID
OVERRIDES_MAX = 8192  # RunTask's overrides may be at most 8192 characters of JSON
DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks
CANCEL_REASON = "Cancelled by Flowyard"
KILL_REASON = "Stopped by Flowyard"
REMOVE_REASON = "Removed by Flowyard"
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ServerException", "ServiceUnavailable", "ServiceUnavailableException", "InternalFailure",
})
NOT_FOUND_CODES = frozenset({"ClientException", "TaskDefinitionNotFoundException", "InvalidParameterException"})


_session_lock = threading.Lock()  # boto3 sessions are not thread-safe; their clients are
_sessions: list[boto3.session.Session] = []


def _new_client(service: str, **arguments: Any) -> Any:
    """A client from one process-wide session, so botocore loads each service's model once."""
    with _session_lock:
        if not _sessions:
            _sessions.append(boto3.session.Session())
        return _sessions[0].client(service, **arguments)


def _client_error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _retryable(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return _client_error_code(exc) in RETRYABLE_CODES or int(status) >= 500


@contextlib.contextmanager
def _aws(action: str, *, launching: bool = False) -> Iterator[None]:
    """Turn boto3's exceptions into the backend's: TargetUnavailable (try later) or LaunchFailed."""
    try:
        yield
    except (BotoConnectionError, HTTPClientError, NoCredentialsError, PartialCredentialsError) as exc:
        raise TargetUnavailable(f"ECS: {action}: {exc}") from exc
    except ClientError as exc:
        if not launching or _retryable(exc):
            raise TargetUnavailable(f"ECS: {action}: {exc}") from exc
        text = str(exc)
        image_error = "cannotpullcontainer" in text.lower() or "image" in text.lower()
        raise LaunchFailed(f"ECS refused to {action}: {text}", image_error=image_error) from exc
    except BotoCoreError as exc:  # parameter validation and the like: a bug or a bad setting, not an outage
        if launching:
            raise LaunchFailed(f"ECS: {action}: {exc}") from exc
        raise TargetUnavailable(f"ECS: {action}: {exc}") from exc


@dataclass
class EcsBackend(RuntimeBackend):
    """Runs as AWS ECS tasks on Fargate, one task per run, found again by `startedBy` = the run id."""

    kind: ClassVar[str] = "ecs"
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _log_group_ready: bool = field(default=False, init=False, repr=False, compare=False)

    # ----------------------------------------------------------------------------------------- plumbing

    @property
    def config(self) -> EcsSettings:
        """The parsed settings (SettingsError when they are incomplete or wrong)."""
        parsed = self.__dict__.get("_config")
        if parsed is None:
            parsed = self.__dict__["_config"] = EcsSettings.parse(self.settings)
        return parsed

    def _settings_or(self, error: type[Exception]) -> EcsSettings:
        try:
            return self.config
        except SettingsError as exc:
            raise error(str(exc)) from exc

    def _client(self, service: str) -> Any:
        """A boto3 client of `service` for this target (made once; boto3 clients are thread-safe)."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                config = self.config
                client = self._clients[service] = _new_client(
                    service,
                    region_name=config.region,
                    endpoint_url=config.endpoint_url,
                    config=Config(
                        retries={"mode": "standard", "max_attempts": config.max_attempts},
                        connect_timeout=config.connect_timeout,
                        read_timeout=config.read_timeout,
                        user_agent_extra="flowyard",
                        # URLs signed for runners use SigV4, the only scheme every S3 region accepts
                        **({"signature_version": "s3v4"} if service == "s3" else {}),
                    ),
                )
            return client

    def _describe(self, arns: list[str]) -> list[dict[str, Any]]:
        ecs, found = self._client("ecs"), []
        for start in range(0, len(arns), DESCRIBE_BATCH):
            answer = ecs.describe_tasks(cluster=self.config.cluster, tasks=arns[start:start + DESCRIBE_BATCH],
                                        include=["TAGS"])
            found.extend(answer.get("tasks", []))
        return found

    def _list_arns(self, **filters: str) -> list[str]:
        """Task ARNs of the cluster with desired status RUNNING or STOPPED (ListTasks' default is RUNNING only)."""
        paginator, arns = self._client("ecs").get_paginator("list_tasks"), {}
        for desired in ("RUNNING", "STOPPED"):
            for page in paginator.paginate(cluster=self.config.cluster, desiredStatus=desired, **filters):
                arns.update(dict.fromkeys(page.get("taskArns", [])))
        return list(arns)

    def _tasks_of(self, run_id: str, *, removed: bool = False) -> list[dict[str, Any]]:
        """The run's tasks (started by it), without those `remove` marked unless `removed`."""
        arns = self._list_arns(startedBy=run_id)
        tasks = [task for task in self._describe(arns) if task.get("startedBy") == run_id] if arns else []
        return tasks if removed else [task for task in tasks if not task_state.is_removed(task)]

    # ------------------------------------------------------------------------------------------ launch

    def launch(self, spec: LaunchSpec) -> str:
        """Run the run's Fargate task unless one started by the run exists; return the task ARN."""
        config = self._settings_or(LaunchFailed)
        if len(spec.run_id) > STARTED_BY_MAX:
            raise LaunchFailed(f"ECS: run id {spec.run_id!r} is longer than startedBy's {STARTED_BY_MAX} characters.")
        size_error = fargate_size_error(spec.cpu_units, spec.memory_mib)
        if size_error:
            raise LaunchFailed(size_error)
        overrides = self._overrides(spec)
        with _aws("find the run's task", launching=True):
            tasks = self._tasks_of(spec.run_id, removed=True)
        live = task_state.pick(task for task in tasks if not task_state.is_removed(task))
        if live is not None:
            return live["taskArn"]
        with _aws("create the log group", launching=True):
            self._ensure_log_group()
        with _aws("register the task definition", launching=True):
            definition = self._task_definition(config, spec)
        tags = {**spec.labels, RUN_LABEL: spec.run_id, **self.installation_labels()}
        network = {"subnets": list(config.subnets), "assignPublicIp": config.assign_public_ip}
        if config.security_groups:
            network["securityGroups"] = list(config.security_groups)
        with _aws("run the task", launching=True):
            answer = self._client("ecs").run_task(
                cluster=config.cluster,
                taskDefinition=definition,
                launchType="FARGATE",
                platformVersion=config.platform_version,
                count=1,
                startedBy=spec.run_id,
                # AWS answers a repeated token with the task it already started; removed tasks count as attempts
                clientToken=f"{spec.run_id}-{len(tasks)}",
                tags=[{"key": key, "value": value} for key, value in tags.items()],
                enableECSManagedTags=True,
                networkConfiguration={"awsvpcConfiguration": network},
                overrides=overrides,
            )
        failures = answer.get("failures") or []
        if failures or not answer.get("tasks"):
            text = "; ".join(f"{f.get('reason', '')} {f.get('detail', '')}".strip() for f in failures) or "no task"
            if "capacity is unavailable" in text.lower():  # Fargate capacity: try again later
                raise TargetUnavailable(f"ECS: run the task: {text}")
            raise LaunchFailed(f"ECS could not run the task: {text}", image_error=task_state.is_image_error(text)
                               or "image" in text.lower())
        return answer["tasks"][0]["taskArn"]

    def _overrides(self, spec: LaunchSpec) -> dict[str, Any]:
        environment = dict(spec.environment)
        if self.config.result_bucket and spec.result_scope:
            environment[RESULT_STORE_VARIABLE] = SIGNED_URLS  # cached results through URLs the control plane signs
        container: dict[str, Any] = {
            "name": CONTAINER,
            "environment": [{"name": name, "value": value} for name, value in environment.items()],
        }
        if spec.command:
            container["command"] = list(spec.command)
        overrides = {"containerOverrides": [container]}
        if len(json.dumps(overrides, separators=(",", ":"))) > OVERRIDES_MAX:
            raise LaunchFailed(
                f"ECS: the run's environment and command exceed RunTask's {OVERRIDES_MAX} characters of overrides "
                f"({len(spec.environment)} variables); fewer or shorter parameters and secrets are needed."
            )
        return overrides

    def _ensure_log_group(self) -> None:
        if self._log_group_ready:
            return
        try:
            self._client("logs").create_log_group(logGroupName=self.config.log_group)
        except ClientError as exc:
            if _client_error_code(exc) != "ResourceAlreadyExistsException":
                raise
        self._log_group_ready = True

    def _task_definition(self, config: EcsSettings, spec: LaunchSpec) -> str:
        """The ARN of an ACTIVE task definition for the spec's image and size, registered only when needed."""
        request = task_definition_request(config, spec.image, spec.cpu_units, spec.memory_mib)
        ecs, wanted = self._client("ecs"), fingerprint(request)
        try:
            latest = ecs.describe_task_definition(taskDefinition=request["family"], include=["TAGS"])
        except ClientError as exc:
            if _client_error_code(exc) not in NOT_FOUND_CODES:
                raise
        else:
            definition = latest["taskDefinition"]
            tags = {tag["key"]: tag.get("value") for tag in latest.get("tags") or []}
            if definition.get("status") == "ACTIVE" and tags.get(FINGERPRINT_TAG) == wanted:
                return definition["taskDefinitionArn"]
        registered = ecs.register_task_definition(**request, tags=tags_for(request))
        return registered["taskDefinition"]["taskDefinitionArn"]

    # ------------------------------------------------------------------------------ state and control

    def inspect(self, run_id: str) -> RuntimeStatus:
        """The run's task now, from DescribeTasks (MISSING when ECS has none for the run)."""
        self._settings_or(TargetUnavailable)
        with _aws("describe the run's task"):
            task = task_state.pick(self._tasks_of(run_id))
        return RuntimeStatus(WorkloadState.MISSING) if task is None else task_state.task_status(task)

    def result_url(self, *, scope: str, location: str, upload: bool) -> str | None:
        """A URL signed for GetObject (PutObject with `upload`) of `<result_prefix>/<scope>/<location>` in the
        target's result bucket, valid `result_url_seconds`; None without a bucket. Signing is local: no AWS call."""
        config = self._settings_or(TargetUnavailable)
        if not config.result_bucket or not scope:
            return None
        with _aws("sign a result URL"):
            return self._client("s3").generate_presigned_url(
                "put_object" if upload else "get_object",
                Params={"Bucket": config.result_bucket, "Key": f"{config.result_prefix}/{scope}/{location}"},
                ExpiresIn=config.result_url_seconds,
            )

    def result_store_remove(self, scope: str) -> None:
        """Delete every object under `<result_prefix>/<scope>/` in the result bucket (nothing without a bucket)."""
        config = self._settings_or(TargetUnavailable)
        if not config.result_bucket or not scope:
            return
        s3 = self._client("s3")
        with _aws("delete the environment's cached results"):
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=config.result_bucket,
                                                                 Prefix=f"{config.result_prefix}/{scope}/")
            for page in pages:  # at most 1000 keys a page: DeleteObjects' own limit
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=config.result_bucket, Delete={"Objects": keys, "Quiet": True})

    def terminate(self, run_id: str, *, grace_seconds: float) -> None:
        """StopTask: ECS sends SIGTERM, then SIGKILL after the task definition's stopTimeout (not `grace_seconds`)."""
        config = self._settings_or(TargetUnavailable)
        if grace_seconds != config.stop_grace_seconds:
            logger.debug("ECS stops run %s after its stopTimeout of %ss, not %ss", run_id,
                         config.stop_grace_seconds, grace_seconds)
        self._stop(run_id, CANCEL_REASON)

    def kill(self, run_id: str) -> None:
        """StopTask as well: ECS has no immediate kill; a task already stopping is left to finish stopping."""
        self._settings_or(TargetUnavailable)
        self._stop(run_id, KILL_REASON)

    def _stop(self, run_id: str, reason: str) -> list[dict[str, Any]]:
        with _aws("stop the run's task"):
            tasks = self._tasks_of(run_id)
            for task in tasks:
                if task.get("desiredStatus") != "STOPPED" and task.get("lastStatus") != "STOPPED":
                    self._client("ecs").stop_task(cluster=self.config.cluster, task=task["taskArn"], reason=reason)
        return tasks

    def remove(self, run_id: str) -> None:
        """Stop the run's task if needed and tag it removed: ECS cannot delete a task record, Flowyard ignores it."""
        self._settings_or(TargetUnavailable)
        tasks = self._stop(run_id, REMOVE_REASON)
        with _aws("mark the run's task removed"):
            for task in tasks:
                self._client("ecs").tag_resource(resourceArn=task["taskArn"],
                                                 tags=[{"key": task_state.REMOVED_TAG, "value": "true"}])

    # -------------------------------------------------------------------------------- logs and listing

    def logs(self, run_id: str) -> Iterator[LogLine]:
        """The task's awslogs stream from CloudWatch Logs, oldest first (empty when there is none yet)."""
        config = self._settings_or(TargetUnavailable)
        with _aws("find the run's task"):
            tasks = self._tasks_of(run_id, removed=True)
        task = task_state.pick(t for t in tasks if not task_state.is_removed(t)) or task_state.pick(tasks)
        if task is None:
            return
        logs, token = self._client("logs"), None
        while True:
            arguments = {"logGroupName": config.log_group, "logStreamName": log_stream(task["taskArn"]),
                         "startFromHead": True, "limit": config.log_page_size}
            if token is not None:
                arguments["nextToken"] = token
            with _aws("read the run's log"):
                try:
                    page = logs.get_log_events(**arguments)
                except ClientError as exc:
                    if _client_error_code(exc) == "ResourceNotFoundException":
                        return  # no stream (or group) yet: the container has written nothing
                    raise
            for event in page.get("events", []):
                at = datetime.datetime.fromtimestamp(event["timestamp"] / 1000, tz=datetime.UTC)
                yield LogLine(at=at, stream="stdout", message=event.get("message", ""))
            if page.get("nextForwardToken") in (None, token):
                return
            token = page["nextForwardToken"]

    def list_workloads(self) -> dict[str, RuntimeStatus]:
        """Every task of the cluster tagged with a run id and this installation (removed ones left out), by run id."""
        self._settings_or(TargetUnavailable)
        with _aws("list the cluster's tasks"):
            arns = self._list_arns()
            tasks = self._describe(arns) if arns else []
        by_run: dict[str, list[Mapping[str, Any]]] = {}
        for task in tasks:
            run_id = task_state.run_id_of(task)
            if run_id and not task_state.is_removed(task) and of_installation(task_state.tags_of(task),
                                                                              self.installation_id):
                by_run.setdefault(run_id, []).append(task)
        return {run_id: task_state.task_status(task_state.pick(found)) for run_id, found in by_run.items()}
