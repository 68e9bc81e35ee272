"""Flowyard reads its configuration from FLOWYARD_* variables and names the variable when one is wrong."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.config import ConfigError, FlowyardConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = secrets.token_urlsafe(48)  # 64 characters


def test_the_defaults_give_an_embedded_sqlite_database(tmp_path):
    config = FlowyardConfig.from_environ({})
    assert config.mode == "development" and config.debug is False
    database = config.django_databases(str(tmp_path))["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == os.path.join(str(tmp_path), "flowyard.sqlite3")


def test_a_postgres_url_maps_to_the_postgresql_engine_with_its_parts(tmp_path):
    config = FlowyardConfig.from_environ({"FLOWYARD_DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db"})
    database = config.django_databases(str(tmp_path))["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("db", "u", "p")
    assert (database["HOST"], database["PORT"]) == ("127.0.0.1", "5432")


def test_list_variables_are_split_on_commas():
    config = FlowyardConfig.from_environ({"FLOWYARD_ALLOWED_HOSTS": "a.example.com, b.example.com,"})
    assert config.allowed_hosts == ["a.example.com", "b.example.com"]


@pytest.mark.parametrize(
    "variable,value",
    [
        ("FLOWYARD_PERSONAL_TOKEN_MAX_DAYS", "abc"),
        ("FLOWYARD_PERSONAL_TOKEN_MAX_DAYS", "0"),
        ("FLOWYARD_DATABASE_URL", "mysql://x"),
        ("FLOWYARD_LOG_LEVEL", "LOUD"),
        ("FLOWYARD_MODE", "staging"),
        ("FLOWYARD_DEBUG", "perhaps"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as error:
        FlowyardConfig.from_environ({variable: value})
    assert str(error.value).startswith(variable)
    assert repr(value) in str(error.value), "the message shows the value it got"


def test_production_without_a_secret_key_is_refused():
    with pytest.raises(ConfigError, match="^FLOWYARD_SECRET_KEY"):
        FlowyardConfig.from_environ({"FLOWYARD_MODE": "production", "FLOWYARD_DATABASE_URL": "postgres://u@h/db"})
    with pytest.raises(ConfigError, match="^FLOWYARD_SECRET_KEY"):
        FlowyardConfig.from_environ(
            {"FLOWYARD_MODE": "production", "FLOWYARD_DATABASE_URL": "postgres://u@h/db", "FLOWYARD_SECRET_KEY": "short"}
        )


def test_production_without_postgresql_or_with_debug_is_refused():
    base = {"FLOWYARD_MODE": "production", "FLOWYARD_SECRET_KEY": GOOD_SECRET}
    with pytest.raises(ConfigError, match="^FLOWYARD_DATABASE_URL"):
        FlowyardConfig.from_environ(base)
    with pytest.raises(ConfigError, match="^FLOWYARD_DEBUG"):
        FlowyardConfig.from_environ({**base, "FLOWYARD_DATABASE_URL": "postgres://u@h/db", "FLOWYARD_DEBUG": "true"})
    config = FlowyardConfig.from_environ({**base, "FLOWYARD_DATABASE_URL": "postgres://u@h/db"})
    assert config.mode == "production"


def test_the_production_settings_pass_djangos_deployment_checks(tmp_path):
    environ = {
        name: value for name, value in os.environ.items()
        if not name.startswith("FLOWYARD_") and name != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="controlplane.settings.production",
        FLOWYARD_SECRET_KEY=GOOD_SECRET,
        FLOWYARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/flowyard",
        FLOWYARD_ALLOWED_HOSTS="flowyard.example.com",
        FLOWYARD_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "platform/manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
