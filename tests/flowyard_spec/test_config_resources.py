"""cpu and memory: numbers and strings, and the pairs Fargate accepts, also per environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowyard_spec.config import config_errors, parse_config
from flowyard_spec.quantities import FARGATE_MEMORY

FARGATE_TABLE = {
    256: [512, 1024, 2048],
    512: [1024, 2048, 3072, 4096],
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}


def config(**fields) -> dict:
    """A config with a name and the given fields (keys by alias, `_` for `-`)."""
    return {"name": "etl", **{key.replace("_", "-"): value for key, value in fields.items()}}


def errors_of(data: dict) -> dict[str, list[str]]:
    """The config_errors of an invalid config."""
    with pytest.raises(ValidationError) as caught:
        parse_config(data)
    return config_errors(caught.value)


@pytest.mark.parametrize(("memory", "mib"), [
    (4096, 4096), ("4096", 4096), ("2Gi", 2048), ("512Mi", 512), ("0.5Gi", 512), ("1.5 GiB", 1536), ("8gi", 8192),
    (2048.0, 2048),
])
def test_memory_is_in_mib_and_strings_may_carry_a_unit(memory, mib):
    assert parse_config(config(memory=memory)).memory == mib


@pytest.mark.parametrize(("cpu", "units"), [
    (1024, 1024), (256, 256), ("0.25", 256), ("0.5", 512), ("1", 1024), ("2", 2048), ("16", 16384), (512.0, 512),
])
def test_cpu_numbers_are_ecs_units_and_strings_are_vcpus(cpu, units):
    assert parse_config(config(cpu=cpu)).cpu == units


@pytest.mark.parametrize(("memory", "fragment"), [
    ("lots", "not understood"), ("2G", "not understood"), ("1.3Mi", "whole number of MiB"), (True, "must be"),
    (4, "for 4 GiB write '4Gi' or 4096"), (-1, "at least 128"), ([4096], "must be"),
])
def test_unreadable_memory_says_which_forms_are_accepted(memory, fragment):
    assert fragment in errors_of(config(memory=memory))["memory"][0]


@pytest.mark.parametrize(("cpu", "fragment"), [
    ("half", "not understood"), ("0.1", "whole number of ECS units"), (2, 'for 2 vCPUs write "2" or 2048'),
    ("1024", "write the number 1024"), (0.5, "whole number of ECS units"), (False, "must be"), ("-1", "positive"),
])
def test_unreadable_cpu_says_which_forms_are_accepted(cpu, fragment):
    assert fragment in errors_of(config(cpu=cpu))["cpu"][0]


def test_the_fargate_table_is_the_one_aws_documents():
    assert {cpu: list(memory) for cpu, memory in FARGATE_MEMORY.items()} == FARGATE_TABLE


@pytest.mark.parametrize("runtime", ["fargate", "ecs"])
@pytest.mark.parametrize(("cpu", "memory"), [(cpu, memory) for cpu, allowed in FARGATE_TABLE.items() for memory in allowed])
def test_every_pair_fargate_accepts_is_accepted(runtime, cpu, memory):
    parsed = parse_config(config(cloud_execution_environment=runtime, cpu=cpu, memory=memory))
    assert (parsed.cpu, parsed.memory) == (cpu, memory)


@pytest.mark.parametrize(("cpu", "memory"), [
    (256, 4096), (256, 256), (512, 512), (512, 5120), (1024, 1024), (1024, 9216), (2048, 3072), (2048, 17408),
    (4096, 31744), (8192, 18432), (8192, 65536), (16384, 36864), (16384, 131072),
])
def test_a_memory_fargate_refuses_for_the_cpu_lists_the_allowed_values(cpu, memory):
    message = errors_of(config(cloud_execution_environment="fargate", cpu=cpu, memory=memory))["memory"][0]
    assert f"memory {memory} MiB with cpu {cpu}" in message
    assert ", ".join(str(value) for value in FARGATE_TABLE[cpu]) in message


def test_a_cpu_size_fargate_does_not_offer_lists_the_sizes():
    message = errors_of(config(cloud_execution_environment="ecs", cpu=768, memory=2048))["cpu"][0]
    assert "does not offer cpu 768" in message and "256 (0.25 vCPU)" in message and "16384 (16 vCPU)" in message


def test_docker_and_local_runtimes_take_any_cpu_and_memory():
    assert parse_config(config(cloud_execution_environment="docker", cpu=768, memory=3000)).memory == 3000
    assert parse_config(config(cloud_execution_environment="local", cpu="3", memory="3Gi")).cpu == 3072


def test_the_defaults_fit_fargate():
    parsed = parse_config(config(cloud_execution_environment="fargate"))
    assert parsed.memory in FARGATE_TABLE[parsed.cpu]


def test_an_environment_override_that_breaks_the_fargate_pair_is_named_under_the_environment():
    errors = errors_of(config(cloud_execution_environment="fargate", cpu=1024, memory=4096,
                              environments={"production": {"memory": 16384}, "test": {"memory": "3Gi"}}))
    assert list(errors) == ["environments.production.memory"]
    assert "in environment 'production'" in errors["environments.production.memory"][0]
    assert "2048, 3072, 4096, 5120, 6144, 7168, 8192" in errors["environments.production.memory"][0]


def test_an_environment_that_switches_to_fargate_is_checked_too():
    errors = errors_of(config(cpu=1024, memory=3000, environments={"production": {"cloud-execution-environment": "fargate"}}))
    assert list(errors) == ["environments.production.cloud-execution-environment"]


def test_an_environment_that_changes_only_the_cpu_is_blamed_on_its_cpu():
    errors = errors_of(config(cloud_execution_environment="fargate", cpu=1024, memory=4096,
                              environments={"test": {"cpu": "0.25"}}))
    assert "for cpu 256 use one of: 512, 1024, 2048" in errors["environments.test.cpu"][0]


def test_an_environment_that_fixes_nothing_does_not_repeat_the_base_error():
    errors = errors_of(config(cloud_execution_environment="fargate", cpu=1024, memory=1024,
                              environments={"production": {"retries": 2}}))
    assert list(errors) == ["memory"]


def test_an_environment_may_leave_fargate_for_docker_with_any_size():
    parsed = parse_config(config(cloud_execution_environment="fargate", cpu=1024, memory=4096,
                                 environments={"dev": {"cloud-execution-environment": "docker", "memory": 3000}}))
    assert parsed.for_environment("dev").memory == 3000


def test_a_wrong_value_inside_an_environment_is_named_with_its_path():
    errors = errors_of(config(environments={"production": {"memory": "lots", "retries": 99, "cpu": None}}))
    assert set(errors) == {"environments.production.memory", "environments.production.retries",
                           "environments.production.cpu"}


def test_environment_names_are_slugs():
    assert "lowercase letters" in errors_of(config(environments={"Prod": {}}))["environments.Prod"][0]
