"""The workflow config file, `flowyard.json`: one pydantic schema shared by the CLI and the control plane.

It accepts unchanged the format teams already use (hyphenated keys, AWS cron, cpu in ECS units, memory in MiB)
plus Flowyard's own fields. Unknown keys are errors. Read a config with `parse_config(data)`; turn a
`pydantic.ValidationError` into `{"dotted.alias.path": ["message", ...]}` with `config_errors(exc)`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from pydantic import SerializationInfo, SerializerFunctionWrapHandler, create_model, model_serializer, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from flowyard_spec.quantities import QuantityError, fargate_problem, parse_cpu, parse_memory
from flowyard_spec.schedules import Schedule, ScheduleError, parse_expression, zone

CONFIG_FILE_NAME = "flowyard.json"
ROOT = "(root)"
SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SLUG_RULE = "1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"
ENTRYPOINT_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
ENTRYPOINT_FORMS = ("'module:function' for an SDK flow (e.g. 'workflow:etl'), or a command as a list of strings "
                    "(e.g. [\"bash\", \"run.sh\"])")
ENV_VAR_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")
FARGATE_RUNTIMES = frozenset({"fargate", "ecs"})
Runtime = Literal["docker", "fargate", "ecs", "local"]
ConcurrencyPolicy = Literal["queue", "skip"]
CatchUpPolicy = Literal["skip", "latest", "all"]
TRIGGER_TARGET_PATTERN = re.compile(r"^(?:(?P<project>[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)/)?"
                                    r"(?P<workflow>[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$")
DEFAULT_CATCH_UP: CatchUpPolicy = "skip"
DEFAULT_CATCH_UP_MAX = 10
DEFAULT_START_DEADLINE_SECONDS = 60
MAX_DESCRIPTION_LENGTH = 2000


def _fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose message is exactly `message`."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def _slug(value: str) -> str:
    if not SLUG_PATTERN.match(value):
        raise _fail("slug", f"{value!r} is not a valid name: use {SLUG_RULE} (e.g. 'my-workflow')")
    return value


def _schedule(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_expression(value)
        except ScheduleError as exc:
            raise _fail("schedule", str(exc)) from None
    return value


def _timezone(value: str) -> str:
    try:
        zone(value)
    except ScheduleError as exc:
        raise _fail("timezone", str(exc)) from None
    return value


def _entrypoint(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if ENTRYPOINT_PATTERN.match(value):
            return value
        hint = f" To run a command write it as a list: {value.split()!r}." if " " in value.strip() else ""
        raise _fail("entrypoint", f"{value!r} is not an entrypoint; use {ENTRYPOINT_FORMS}.{hint}")
    if isinstance(value, list) and value and all(isinstance(part, str) and part for part in value):
        return value
    raise _fail("entrypoint", f"the entrypoint must be {ENTRYPOINT_FORMS}, and a command list must not be empty "
                              f"or hold anything but non-empty strings; got {value!r}")


def _secret(value: str) -> str:
    if not ENV_VAR_PATTERN.match(value):
        raise _fail("secret_name", f"{value!r} is not a valid secret name: use upper-case letters, digits and "
                                   "underscores, not starting with a digit (it becomes an environment variable, "
                                   "e.g. DB_PASSWORD)")
    if value.startswith("FLOWYARD_"):
        raise _fail("secret_name", f"{value!r} is reserved: names starting with FLOWYARD_ are the runner's own")
    return value


def _trigger_target(value: str) -> str:
    if not TRIGGER_TARGET_PATTERN.match(value):
        raise _fail("trigger_target", f"{value!r} is not a workflow: write 'workflow' for one of this project or "
                                      f"'project/workflow' for another project's, each part {SLUG_RULE}")
    return value


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _fail("duplicate", f"{value!r} is listed twice; list each name once")
        seen.add(value)
    return values


def _quantity(parse: Any) -> Any:
    def validate(value: Any) -> int:
        """The parsed quantity, or a validation error with the parser's message."""
        try:
            return parse(value)
        except QuantityError as exc:
            raise _fail("quantity", str(exc)) from None
    return validate


Slug = Annotated[str, AfterValidator(_slug), WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN.pattern})]
MemoryMiB = Annotated[int, BeforeValidator(_quantity(parse_memory)), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 128},
              {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([MmGg][Ii]([Bb])?)?\s*$"}]})]
CpuUnits = Annotated[int, BeforeValidator(_quantity(parse_cpu)), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 128}, {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*$"}]})]
Entrypoint = Annotated[str | list[str] | None, BeforeValidator(_entrypoint), WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": ENTRYPOINT_PATTERN.pattern},
    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}, {"type": "null"}]})]
ScheduleText = Annotated[str | None, AfterValidator(_schedule)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
SecretNames = Annotated[list[Annotated[str, AfterValidator(_secret), WithJsonSchema(
    {"type": "string", "pattern": ENV_VAR_PATTERN.pattern})]], AfterValidator(_unique)]
TriggerTargets = Annotated[list[Annotated[str, AfterValidator(_trigger_target), WithJsonSchema(
    {"type": "string", "pattern": TRIGGER_TARGET_PATTERN.pattern})]], AfterValidator(_unique)]


class Triggers(BaseModel):
    """Runs this workflow starts: `on_success` names workflows to run, in the same environment, after a success."""

    model_config = ConfigDict(extra="forbid")

    on_success: TriggerTargets = Field(
        default_factory=list,
        description="Workflows to run when a run succeeds: 'workflow' in this project, or 'project/workflow' in "
                    "another project whose admin allowed this project to trigger it.")


BranchPattern = Annotated[str, Field(min_length=1, max_length=255)]


class CiNarrowing(BaseModel):
    """What this workflow's CI pipelines may deploy: narrower than the project's release rules, never wider (a
    pattern or a `true` here cannot deploy what the project's rules do not)."""

    model_config = ConfigDict(extra="forbid")

    deploy_branches: list[BranchPattern] | None = Field(
        None, alias="deploy-branches",
        description="Branch patterns (fnmatch: *, ?, [...]) whose builds are deployed, within the project's own; "
                    "[] deploys no branch build (they are registered only).")
    previews: bool = Field(True, strict=True,
                           description="false: merge requests of this workflow get no preview environment.")
    request_promotion: bool = Field(
        True, alias="request-promotion", strict=True,
        description="false: a default-branch build does not request its promotion to production.")


class WorkflowConfig(BaseModel):
    """The content of a workflow repository's flowyard.json."""

    model_config = ConfigDict(extra="forbid", title="flowyard.json")

    schema_ref: str | None = Field(None, alias="$schema", exclude=True,
                                   description="Optional URL or path of this JSON Schema, for editors.")
    name: Slug = Field(description=f"The workflow's name in its project: {SLUG_RULE}.")
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_LENGTH, strict=True,
        description=f"What the workflow does, as the portal's catalog shows it (at most {MAX_DESCRIPTION_LENGTH} "
                    "characters); unset: the first paragraph of the repository's README.")
    schedule_enabled: bool = Field(False, alias="schedule-enabled", strict=True,
                                   description="Whether `schedule` starts runs.")
    schedule: ScheduleText = Field(None, description="cron(...) or rate(...) as in AWS EventBridge, or 5-field cron.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Parameter name → value passed to the flow.")
    cloud_execution_environment: Runtime | None = Field(
        None, alias="cloud-execution-environment",
        description="Which kind of runtime target runs it: docker, fargate, ecs or local; unset: whatever target "
                    "the environment runs on.")
    memory: MemoryMiB = Field(2048, description="Memory in MiB (4096), or a string with a unit ('512Mi', '2Gi').")
    cpu: CpuUnits = Field(1024, description="CPU in ECS units (1024 = one vCPU), or a string of vCPUs ('0.5').")
    entrypoint: Entrypoint = Field(None, description="'module:function' of a flow, or a command as a list; "
                                                     "default: the one flow in workflow.py.")
    timezone: TimezoneName = Field("UTC", description="IANA timezone the schedule is evaluated in.")
    catch_up: CatchUpPolicy | None = Field(
        None, alias="catch-up",
        description="Ticks missed while the scheduler was down: skip them (default), run the latest one, or run "
                    "all of them up to catch-up-max (the most recent ones).")
    catch_up_max: int | None = Field(None, alias="catch-up-max", ge=1, le=1000, strict=True,
                                     description=f"With catch-up 'all', most missed ticks run (default "
                                                 f"{DEFAULT_CATCH_UP_MAX}); older ones are skipped.")
    start_deadline: int | None = Field(
        None, alias="start-deadline", gt=0, le=86400, strict=True,
        description=f"Seconds a scheduled run may wait past its tick before it is marked late (default "
                    f"{DEFAULT_START_DEADLINE_SECONDS}).")
    retries: int = Field(0, ge=0, le=10, strict=True, description="How many times a failed run is retried (0-10).")
    timeout: int | None = Field(None, gt=0, strict=True, description="Seconds after which a run is stopped.")
    secrets: SecretNames = Field(default_factory=list, description="Names of secrets injected as environment variables.")
    concurrency: int | None = Field(None, ge=1, strict=True, description="Most runs of this workflow at once.")
    concurrency_policy: ConcurrencyPolicy = Field(
        "queue", alias="concurrency-policy",
        description="What happens to a run when `concurrency` runs are already going: queue (wait) or skip (cancel).")
    triggers: Triggers = Field(default_factory=Triggers, description="Workflows to start after this one.")
    ci: CiNarrowing | None = Field(
        None, description="Narrow what CI deploys of this workflow (within the project's release rules).")
    environments: dict[Slug, "EnvironmentOverrides"] = Field(
        default_factory=dict, description="Per-environment overrides (test, production, …) of the fields above.")

    def for_environment(self, name: str) -> WorkflowConfig:
        """The effective config in environment `name`: its overrides applied, parameters merged key by key."""
        values = self.model_dump(by_alias=True, exclude={"environments"})
        override = self.environments.get(name)
        if override is not None:
            for field_name in override.model_fields_set:
                alias = type(self).model_fields[field_name].alias or field_name
                value = override.model_dump(by_alias=True, include={field_name})[alias]
                values[alias] = {**values["parameters"], **value} if field_name == "parameters" else value
        return type(self).model_validate(values)

    def parsed_schedule(self) -> Schedule | None:
        """The schedule expression parsed, or None when there is none."""
        return parse_expression(self.schedule) if self.schedule else None

    def next_fire_times(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` scheduled run times after `after` in this config's timezone; [] when not scheduled."""
        schedule = self.parsed_schedule()
        if not self.schedule_enabled or schedule is None:
            return []
        return schedule.next_fire_times(after, count, self.timezone)

    @model_validator(mode="after")
    def _check_combinations(self) -> WorkflowConfig:
        base = _combination_problems(self.model_dump())
        errors = [InitErrorDetails(type=_fail(kind, message), loc=(alias,), input=value)
                  for alias, (kind, message, value) in base.items()]
        if self.name in self.triggers.on_success:
            errors.append(InitErrorDetails(type=_fail("trigger", "a workflow cannot trigger itself on success"),
                                           loc=("triggers", "on_success"), input=self.name))
        for env_name, override in self.environments.items():
            values = self.model_dump()
            values.update({key: getattr(override, key) for key in override.model_fields_set})
            for alias, (kind, message, value) in _combination_problems(values).items():
                if base.get(alias, (None, None))[1] == message:
                    continue  # the same problem as the base config, already reported there
                blamed = _blame(override, alias)
                errors.append(InitErrorDetails(
                    type=_fail(kind, f"in environment {env_name!r}: {message}"), loc=("environments", env_name, blamed),
                    input=override.model_dump(by_alias=True).get(blamed, value)))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


def _combination_problems(values: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """Problems of fields that are only wrong together: alias → (kind, message, value)."""
    problems: dict[str, tuple[str, str, Any]] = {}
    if values["schedule_enabled"] and not values["schedule"]:
        problems["schedule"] = ("schedule_missing", "schedule-enabled is true but there is no schedule: add one such "
                                "as \"cron(0 14 * * ? *)\" or set schedule-enabled to false", None)
    runtime = values["cloud_execution_environment"]
    if runtime in FARGATE_RUNTIMES:
        problem = fargate_problem(values["cpu"], values["memory"])
        if problem is not None:
            field, message = problem
            problems[field] = ("fargate_resources", f"{message} (cloud-execution-environment is {runtime})",
                               values[field])
    return problems


def _blame(override: BaseModel, alias: str) -> str:
    """The field of an environment's overrides to name for a combination problem: one it sets, if any."""
    related = {"schedule": ["schedule", "schedule_enabled"],
               "cpu": ["cpu", "cloud_execution_environment"],
               "memory": ["memory", "cpu", "cloud_execution_environment"]}[alias]
    for field_name in related:
        if field_name in override.model_fields_set:
            return WorkflowConfig.model_fields[field_name].alias or field_name
    return alias


def _override_fields() -> dict[str, Any]:
    """Every WorkflowConfig field but name, description, environments, $schema and ci, optional and defaulting
    to 'not overridden'."""
    fields: dict[str, Any] = {}
    for field_name, info in WorkflowConfig.model_fields.items():
        if field_name in {"name", "description", "environments", "schema_ref", "ci"}:
            continue
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[field_name] = (annotation, Field(None, alias=info.alias, description=info.description))
    return fields


class _OverridesBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_serializer(mode="wrap")
    def _only_what_is_set(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        """Dump only the fields this environment sets, keeping an explicit null (it removes the base value) even
        under exclude_none, so that a dump always parses back to the same config."""
        fields = type(self).model_fields
        keys = {name: (fields[name].alias or name) if info.by_alias else name for name in self.model_fields_set}
        dumped = handler(self)
        return {key: dumped.get(key) for name, key in keys.items() if key in dumped or getattr(self, name) is None}


EnvironmentOverrides = create_model(  # type: ignore[call-overload]
    "EnvironmentOverrides", __base__=_OverridesBase, __doc__="Fields of flowyard.json one environment sets differently.",
    **_override_fields(),
)
WorkflowConfig.model_rebuild()


def parse_config(data: dict[str, Any]) -> WorkflowConfig:
    """Validate the content of flowyard.json (already parsed from JSON); raises pydantic.ValidationError."""
    return WorkflowConfig.model_validate(data)


def canonical_config(data: dict[str, Any]) -> dict[str, Any]:
    """The config as the schema reads it: validated, keyed by alias, unset optional fields left out."""
    return parse_config(data).model_dump(mode="json", by_alias=True, exclude_none=True)


def config_hash(data: dict[str, Any]) -> str:
    """sha256 of the canonical config as sorted, compact JSON: the same for the builder's image label and
    the control plane's version record, whatever the key order or spelling of defaults in the file."""
    canonical = json.dumps(canonical_config(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def allowed_keys(path: tuple[str | int, ...] = ()) -> list[str]:
    """The keys the config accepts at `path` (the top level, an environment's overrides, or triggers)."""
    if path[:1] == ("environments",) and len(path) == 2:
        model: type[BaseModel] = EnvironmentOverrides
    elif path[-1:] == ("triggers",):
        model = Triggers
    else:
        model = WorkflowConfig
    return [info.alias or name for name, info in model.model_fields.items()]


def config_errors(exc: ValidationError) -> dict[str, list[str]]:
    """The errors of a config as {dotted alias path: [messages]}, e.g. {"environments.production.memory": [...]}."""
    found: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            key, allowed = str(loc[-1]), allowed_keys(loc[:-1])
            close = difflib.get_close_matches(key.replace("_", "-"), allowed, n=1) or difflib.get_close_matches(
                key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            message = f"unknown key {key!r}{hint} Allowed keys: {', '.join(allowed)}"
        elif loc[-1:] == ("[key]",):
            loc = loc[:-1]
        elif error["type"] == "missing":
            message = f"{loc[-1]!r} is required"
        path = ".".join(str(part) for part in loc) or ROOT
        found.setdefault(path, []).append(message)
    return found
