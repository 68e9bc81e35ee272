"""Per-environment overrides: for_environment() merges parameters key by key and replaces every other field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowyard_spec.config import config_errors, parse_config

BASE = {
    "name": "etl",
    "schedule-enabled": False,
    "schedule": "cron(0 14 * * ? *)",
    "parameters": {"env": "test", "account": "111", "day": "today"},
    "secrets": ["DB_PASSWORD", "API_TOKEN"],
    "timeout": 600,
    "triggers": {"on_success": ["report"]},
    "environments": {
        "production": {
            "schedule-enabled": True,
            "parameters": {"env": "prod", "account": "999"},
            "secrets": ["DB_PASSWORD"],
            "memory": "8Gi",
            "timeout": None,
            "triggers": {"on_success": []},
        },
    },
}


def test_environment_parameters_are_merged_key_by_key_over_the_base_ones():
    production = parse_config(BASE).for_environment("production")
    assert production.parameters == {"env": "prod", "account": "999", "day": "today"}


def test_other_overridden_fields_replace_the_base_value():
    production = parse_config(BASE).for_environment("production")
    assert production.schedule_enabled is True
    assert production.secrets == ["DB_PASSWORD"]
    assert production.memory == 8192
    assert production.triggers.on_success == []


def test_an_explicit_null_in_an_environment_removes_the_base_value():
    assert parse_config(BASE).for_environment("production").timeout is None


def test_fields_an_environment_does_not_set_are_inherited():
    production = parse_config(BASE).for_environment("production")
    assert production.schedule == "cron(0 14 * * ? *)"
    assert production.name == "etl"
    assert production.cpu == 1024


def test_an_environment_without_overrides_gets_the_base_config():
    config = parse_config(BASE)
    test = config.for_environment("test")
    assert test.parameters == BASE["parameters"]
    assert test.timeout == 600
    assert test.environments == {}


def test_the_effective_config_has_no_environments_of_its_own():
    assert parse_config(BASE).for_environment("production").environments == {}


def test_the_base_config_is_left_unchanged():
    config = parse_config(BASE)
    config.for_environment("production")
    assert config.parameters == BASE["parameters"] and config.timeout == 600


def test_a_dump_lists_only_what_an_environment_sets_and_round_trips():
    config = parse_config(BASE)
    dumped = config.model_dump(by_alias=True, mode="json")
    assert dumped["environments"]["production"] == {
        "schedule-enabled": True, "parameters": {"env": "prod", "account": "999"}, "memory": 8192,
        "timeout": None, "secrets": ["DB_PASSWORD"], "triggers": {"on_success": []},
    }
    assert parse_config(dumped) == config
    assert parse_config(dumped).for_environment("production") == config.for_environment("production")


def test_an_environment_that_enables_a_schedule_needs_one():
    data = {"name": "etl", "environments": {"production": {"schedule-enabled": True}}}
    with pytest.raises(ValidationError) as caught:
        parse_config(data)
    errors = config_errors(caught.value)
    assert list(errors) == ["environments.production.schedule-enabled"]
    assert "there is no schedule" in errors["environments.production.schedule-enabled"][0]


def test_an_environment_may_set_its_own_schedule_and_timezone():
    config = parse_config({"name": "etl", "environments": {"production": {
        "schedule-enabled": True, "schedule": "rate(1 hour)", "timezone": "America/New_York"}}})
    production = config.for_environment("production")
    assert (production.schedule, production.timezone) == ("rate(1 hour)", "America/New_York")


def test_an_impossible_schedule_in_an_environment_is_named_there():
    with pytest.raises(ValidationError) as caught:
        parse_config({"name": "etl", "environments": {"production": {"schedule": "cron(0 0 30 2 ? *)"}}})
    assert "no date ever matches" in config_errors(caught.value)["environments.production.schedule"][0]


def test_an_explicit_null_survives_a_dump_that_excludes_none_values():
    config = parse_config(BASE)
    stored = config.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert stored["environments"]["production"]["timeout"] is None
    assert parse_config(stored).for_environment("production").timeout is None
