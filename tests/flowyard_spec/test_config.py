"""flowyard.json: the teams' format is accepted unchanged, Flowyard's fields are checked, errors name the field."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from flowyard_spec.config import WorkflowConfig, config_errors, parse_config

TEAM_CONFIG = {
    "name": "my-workflow",
    "schedule-enabled": True,
    "schedule": "cron(0 14 * * ? *)",
    "parameters": {"env": "prod", "account": "12345678910"},
    "cloud-execution-environment": "fargate",
    "memory": 4096,
    "cpu": 1024,
}


def errors_of(data: dict) -> dict[str, list[str]]:
    """The config_errors of an invalid config (fails the test when the config is valid)."""
    with pytest.raises(ValidationError) as caught:
        parse_config(data)
    return config_errors(caught.value)


def with_changes(**changes) -> dict:
    """The team config with some keys (given by alias, `_` for `-`) replaced."""
    data = copy.deepcopy(TEAM_CONFIG)
    data.update({key.replace("_", "-"): value for key, value in changes.items()})
    return data


def test_the_teams_config_parses_unchanged_into_snake_case_attributes():
    config = parse_config(copy.deepcopy(TEAM_CONFIG))
    assert config.name == "my-workflow"
    assert config.schedule_enabled is True
    assert config.schedule == "cron(0 14 * * ? *)"
    assert config.parameters == {"env": "prod", "account": "12345678910"}
    assert config.cloud_execution_environment == "fargate"
    assert (config.memory, config.cpu) == (4096, 1024)


def test_the_teams_config_round_trips_through_model_dump_by_alias():
    config = parse_config(copy.deepcopy(TEAM_CONFIG))
    assert config.model_dump(by_alias=True, exclude_unset=True) == TEAM_CONFIG
    assert parse_config(config.model_dump(by_alias=True)) == config
    assert parse_config(config.model_dump(by_alias=True, mode="json")) == config


def test_flowyards_own_fields_have_defaults():
    config = parse_config({"name": "etl"})
    assert config.entrypoint is None
    assert config.timezone == "UTC"
    assert config.retries == 0
    assert config.timeout is None and config.concurrency is None
    assert config.secrets == [] and config.triggers.on_success == []
    assert config.cloud_execution_environment is None, "unset: the environment's target decides"
    assert config.schedule_enabled is False and config.schedule is None


def test_a_full_config_with_every_field_is_accepted():
    config = parse_config({
        **TEAM_CONFIG, "entrypoint": "pipelines.daily:etl", "timezone": "Europe/Paris", "retries": 3, "timeout": 3600,
        "secrets": ["DB_PASSWORD", "API_TOKEN"], "concurrency": 1, "triggers": {"on_success": ["report"]},
        "environments": {"test": {"schedule-enabled": False}, "production": {"memory": "8Gi"}},
    })
    assert config.entrypoint == "pipelines.daily:etl"
    assert config.triggers.on_success == ["report"]
    assert parse_config(config.model_dump(by_alias=True)) == config


def test_a_command_entrypoint_is_a_list_of_strings():
    assert parse_config({"name": "etl", "entrypoint": ["bash", "run.sh"]}).entrypoint == ["bash", "run.sh"]


@pytest.mark.parametrize("entrypoint", ["bash run.sh", "workflow", "workflow:", ":etl", "1mod:etl", [], [""], ["a", 3]])
def test_a_malformed_entrypoint_says_which_forms_are_allowed(entrypoint):
    errors = errors_of({"name": "etl", "entrypoint": entrypoint})
    assert list(errors) == ["entrypoint"]
    assert "module:function" in errors["entrypoint"][0]


def test_an_entrypoint_with_spaces_suggests_the_list_form():
    assert "['bash', 'run.sh']" in errors_of({"name": "etl", "entrypoint": "bash run.sh"})["entrypoint"][0]


def test_an_unknown_key_is_an_error_naming_the_key_and_the_allowed_ones():
    errors = errors_of(with_changes(colour="blue"))
    assert list(errors) == ["colour"]
    assert "unknown key 'colour'" in errors["colour"][0]
    assert "schedule-enabled" in errors["colour"][0]


def test_a_snake_case_key_is_unknown_and_the_hyphenated_one_is_suggested():
    data = copy.deepcopy(TEAM_CONFIG)
    data["schedule_enabled"] = data.pop("schedule-enabled")
    assert "did you mean 'schedule-enabled'?" in errors_of(data)["schedule_enabled"][0]


def test_an_unknown_key_inside_an_environment_or_triggers_is_named_with_its_path():
    errors = errors_of(with_changes(environments={"production": {"memroy": 4096}}, triggers={"on_failure": []}))
    assert "did you mean 'memory'?" in errors["environments.production.memroy"][0]
    assert "unknown key 'on_failure'" in errors["triggers.on_failure"][0]


def test_the_name_cannot_be_overridden_per_environment():
    assert "environments.test.name" in errors_of(with_changes(environments={"test": {"name": "other"}}))


@pytest.mark.parametrize(("key", "value"), [
    ("schedule-enabled", "sometimes"), ("retries", "3"), ("retries", True), ("timeout", "1h"), ("concurrency", 1.5),
    ("parameters", ["env"]), ("secrets", "DB_PASSWORD"), ("triggers", ["report"]), ("name", 42), ("schedule", 5),
])
def test_a_wrong_type_names_the_field_by_its_alias(key, value):
    assert key in errors_of(with_changes(**{key: value}))


def test_a_missing_name_is_required():
    assert errors_of({"cpu": 256}) == {"name": ["'name' is required"]}


def test_a_config_that_is_not_an_object_is_an_error_at_the_root():
    assert list(errors_of(["name"])) == ["(root)"]


@pytest.mark.parametrize("name", ["My-Workflow", "my_workflow", "-etl", "etl-", "", "x" * 64])
def test_the_name_must_be_a_lowercase_slug(name):
    assert "lowercase letters" in errors_of(with_changes(name=name))["name"][0]


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("retries", 11, "less than or equal to 10"), ("retries", -1, "greater than or equal to 0"),
    ("timeout", 0, "greater than 0"), ("concurrency", 0, "greater than or equal to 1"),
    ("cloud-execution-environment", "kubernetes", "'docker', 'fargate', 'ecs' or 'local'"),
    ("timezone", "Mars/Olympus", "IANA timezone"), ("timezone", "", "IANA timezone"),
])
def test_an_out_of_range_value_says_what_is_allowed(key, value, allowed):
    assert allowed in errors_of(with_changes(**{key: value}))[key][0]


@pytest.mark.parametrize("runtime", ["docker", "fargate", "ecs", "local"])
def test_every_runtime_is_accepted(runtime):
    assert parse_config(with_changes(cloud_execution_environment=runtime)).cloud_execution_environment == runtime


def test_secrets_are_environment_variable_names_listed_once():
    assert "not a valid secret name" in errors_of(with_changes(secrets=["OK", "1BAD"]))["secrets.1"][0]
    assert "not a valid secret name" in errors_of(with_changes(secrets=["has-dash"]))["secrets.0"][0]
    assert "listed twice" in errors_of(with_changes(secrets=["TOKEN", "TOKEN"]))["secrets"][0]


def test_triggers_name_other_workflows_by_slug_and_never_the_workflow_itself():
    assert parse_config(with_changes(triggers={"on_success": ["report", "export"]})).triggers.on_success == [
        "report", "export"]
    assert "lowercase letters" in errors_of(with_changes(triggers={"on_success": ["Report"]}))["triggers.on_success.0"][0]
    assert "cannot trigger itself" in errors_of(with_changes(triggers={"on_success": ["my-workflow"]}))[
        "triggers.on_success"][0]


def test_a_schedule_is_checked_and_an_impossible_one_is_named():
    message = errors_of(with_changes(schedule="cron(0 0 31 2 ? *)"))["schedule"][0]
    assert "cron(0 0 31 2 ? *)" in message and "no date ever matches" in message
    assert "exactly one of day-of-month and day-of-week must be '?'" in errors_of(
        with_changes(schedule="cron(0 14 * * * *)"))["schedule"][0]


@pytest.mark.parametrize("schedule", ["cron(0 14 * * ? *)", "rate(5 minutes)", "rate(1 hour)", "*/15 9-17 * * 1-5"])
def test_aws_and_five_field_schedules_are_accepted(schedule):
    assert parse_config(with_changes(schedule=schedule)).schedule == schedule


def test_schedule_enabled_without_a_schedule_is_an_error():
    errors = errors_of(with_changes(schedule=None))
    assert "schedule-enabled is true but there is no schedule" in errors["schedule"][0]
    assert parse_config(with_changes(schedule=None, schedule_enabled=False)).schedule is None


def test_the_config_computes_its_next_run_times_in_its_timezone():
    from datetime import datetime, timezone

    config = parse_config(with_changes(timezone="Europe/Paris"))
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [moment.isoformat() for moment in config.next_fire_times(after, 2)] == [
        "2026-01-01T13:00:00+00:00", "2026-01-02T13:00:00+00:00"]
    assert parse_config(with_changes(schedule_enabled=False)).next_fire_times(after, 2) == []


def test_the_json_schema_uses_the_aliases():
    properties = WorkflowConfig.model_json_schema(by_alias=True)["properties"]
    assert {"schedule-enabled", "cloud-execution-environment", "environments", "entrypoint"} <= set(properties)
    assert "schedule_enabled" not in properties


def test_a_description_is_optional_free_text_of_at_most_2000_characters():
    from flowyard_spec.config import MAX_DESCRIPTION_LENGTH, canonical_config, config_hash

    assert parse_config(copy.deepcopy(TEAM_CONFIG)).description is None
    text = "Loads the day's sales into the warehouse.\nRuns after the shop closes."
    config = parse_config(with_changes(description=text))
    assert config.description == text
    assert config.for_environment("production").description == text
    assert canonical_config(with_changes(description=text))["description"] == text
    assert parse_config(with_changes(description="x" * MAX_DESCRIPTION_LENGTH)).description == "x" * 2000
    assert errors_of(with_changes(description="x" * 2001)) == {"description": [
        "String should have at most 2000 characters"]}
    assert list(errors_of(with_changes(description=["not", "text"]))) == ["description"]
    # A config without one hashes as before the field existed.
    assert config_hash(copy.deepcopy(TEAM_CONFIG)) == config_hash(with_changes(description=None))


def test_the_description_is_not_overridden_per_environment_and_unknown_keys_stay_errors():
    errors = errors_of(with_changes(environments={"production": {"description": "Prod only"}}))
    assert "unknown key 'description'" in errors["environments.production.description"][0]
    assert "did you mean 'description'?" in errors_of(with_changes(descripton="typo"))["descripton"][0]
    properties = WorkflowConfig.model_json_schema(by_alias=True)["properties"]
    assert properties["description"]["anyOf"][0] == {"type": "string", "maxLength": 2000}
