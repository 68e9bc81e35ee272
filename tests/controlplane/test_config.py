"""Flowyard reads its configuration from FLOWYARD_* variables and names the variable when one is wrong."""

from __future__ import annotations

import json
import os
import re
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


def test_postgres_connections_bind_on_the_server_and_prepare_repeated_statements_unless_the_url_turns_it_off(
        tmp_path):
    def options(url: str) -> dict:
        return FlowyardConfig.from_environ({"FLOWYARD_DATABASE_URL": url}).django_databases(str(tmp_path))["default"]["OPTIONS"]

    assert options("postgres://u@127.0.0.1/db") == {"server_side_binding": True, "prepare_threshold": 1}
    assert options("postgres://u@127.0.0.1/db?prepare_threshold=5") == {"server_side_binding": True,
                                                                         "prepare_threshold": 5}
    assert options("postgres://u@127.0.0.1/db?server_side_binding=false&sslmode=disable") == {
        "server_side_binding": False, "sslmode": "disable"}
    with pytest.raises(ConfigError, match="FLOWYARD_DATABASE_URL: server_side_binding must be true or false"):
        options("postgres://u@127.0.0.1/db?server_side_binding=maybe")
    with pytest.raises(ConfigError, match="FLOWYARD_DATABASE_URL: prepare_threshold must be a whole number"):
        options("postgres://u@127.0.0.1/db?prepare_threshold=often")


@pytest.mark.django_db
def test_a_statement_the_connection_runs_again_is_prepared_on_the_server():
    """Django's own default never prepares (prepare_threshold None); ours prepares from the second run on."""
    from django.db import connection

    from controlplane.runs.models import Run

    if connection.vendor == "sqlite":  # an embedded install: nothing of psycopg's applies
        assert "prepare_threshold" not in connection.settings_dict["OPTIONS"]
        return
    for _ in range(3):
        list(Run.objects.filter(state="NO SUCH STATE").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("NO SUCH STATE" not in statement and '"runs_run"."state" = $1' in statement for statement in prepared), \
        prepared


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
        FLOWYARD_DATABASE_URL="postgres://postgres@127.0.0.1:1/flowyard",
        FLOWYARD_ALLOWED_HOSTS="flowyard.example.com",
        FLOWYARD_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "platform/manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    # Only Django's own checks: Flowyard's (flowyard.*, tests/controlplane/operations/test_deploy_checks.py) ask
    # for a broker, SSO and a database that answers (port 1 never does), which this environment does not give.
    assert re.findall(r"\((?!flowyard\.)\w+\.[EW]\d+\)", output) == [], output
    assert "Traceback" not in output and "System check identified" in output, output


# -- importing a settings profile only reads -----------------------------------------------------------
IMPORT_AND_COMPARE = """
import importlib, json, os, sys
before = dict(os.environ)
settings = importlib.import_module(sys.argv[1])
after = dict(os.environ)
print(json.dumps({
    "changed": sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name)),
    "data_dir_exists": os.path.exists(os.environ["FLOWYARD_DATA_DIR"]),
    "mode": settings.FLOWYARD.mode,
    "ssl_redirect": getattr(settings, "SECURE_SSL_REDIRECT", False),
}))
"""


def import_profile(profile: str, data_dir: Path, **variables: str) -> dict:
    """Import `controlplane.settings.<profile>` in a fresh interpreter with only `variables` as FLOWYARD_*."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("FLOWYARD_") and name != "DJANGO_SETTINGS_MODULE"}
    environ.update(FLOWYARD_DATA_DIR=str(data_dir), **variables)
    result = subprocess.run([sys.executable, "-c", IMPORT_AND_COMPARE, f"controlplane.settings.{profile}"],
                            cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "profile,variables",
    [
        ("development", {}),  # the embedded defaults: SQLite and the file broker, both under the data directory
        ("test", {"FLOWYARD_BROKER_URL": "redis://127.0.0.1:6379/0", "FLOWYARD_TASK_QUEUE": "flowyard-test-probe"}),
        ("production", {"FLOWYARD_SECRET_KEY": GOOD_SECRET, "FLOWYARD_DATABASE_URL": "postgres://u@127.0.0.1/db"}),
    ],
)
def test_importing_a_settings_profile_changes_neither_the_environment_nor_the_disk(tmp_path, profile, variables):
    data_dir = tmp_path / "not-yet"
    outcome = import_profile(profile, data_dir, **variables)
    assert outcome["changed"] == [], f"{profile} changed os.environ"
    assert outcome["data_dir_exists"] is False, f"{profile} created {data_dir}"


def test_the_production_profile_is_production_whatever_flowyard_mode_says(tmp_path):
    variables = {"FLOWYARD_SECRET_KEY": GOOD_SECRET, "FLOWYARD_DATABASE_URL": "postgres://u@127.0.0.1/db"}
    assert import_profile("production", tmp_path, **variables)["mode"] == "production"
    assert import_profile("production", tmp_path, FLOWYARD_MODE="development", **variables)["mode"] == "production"
    assert import_profile("development", tmp_path, **variables)["mode"] == "development"


def test_the_production_profile_redirects_plain_http_unless_told_a_private_network_needs_none(tmp_path):
    variables = {"FLOWYARD_SECRET_KEY": GOOD_SECRET, "FLOWYARD_DATABASE_URL": "postgres://u@127.0.0.1/db"}
    assert import_profile("production", tmp_path, **variables)["ssl_redirect"] is True
    assert import_profile("production", tmp_path, FLOWYARD_HTTPS_REDIRECT="false", **variables)["ssl_redirect"] is False


def test_a_mode_given_by_the_caller_replaces_flowyard_mode_and_its_checks_apply():
    with pytest.raises(ConfigError, match="^FLOWYARD_SECRET_KEY"):
        FlowyardConfig.from_environ({"FLOWYARD_MODE": "development"}, mode="production")
    assert FlowyardConfig.from_environ({"FLOWYARD_MODE": "production"}, mode="development").mode == "development"


def test_the_test_profile_outside_pytest_names_the_variables_it_needs(tmp_path):
    environ = {name: value for name, value in os.environ.items() if not name.startswith("FLOWYARD_")}
    result = subprocess.run([sys.executable, "-c", "import controlplane.settings.test"],
                            cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "FLOWYARD_DATA_DIR, FLOWYARD_BROKER_URL, FLOWYARD_TASK_QUEUE: the test profile needs" in result.stderr


def test_pytest_set_the_session_environment_before_django_read_the_settings():
    """flowyard_testkit.environment runs before pytest-django: the settings show this session's values."""
    from django.conf import settings

    assert settings.DATA_DIR == Path(os.environ["FLOWYARD_DATA_DIR"]).resolve()
    assert settings.CELERY_TASK_DEFAULT_QUEUE == os.environ["FLOWYARD_TASK_QUEUE"]
    assert settings.CELERY_BROKER_URL == os.environ["FLOWYARD_BROKER_URL"]


def test_start_up_creates_the_folders_of_the_embedded_defaults(tmp_path):
    """`flowyard-admin` (any command) creates the SQLite folder, the file broker's and the static files' folders
    before it runs."""
    data_dir = tmp_path / "fresh" / "data"
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("FLOWYARD_") and name != "DJANGO_SETTINGS_MODULE"}
    environ.update(FLOWYARD_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="controlplane.settings.development")
    admin = Path(sys.executable).parent / "flowyard-admin"
    result = subprocess.run([str(admin), "check"], cwd=REPO_ROOT, env=environ, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    folders = sorted(str(path.relative_to(data_dir)) for path in data_dir.rglob("*") if path.is_dir())
    assert folders == ["broker", "broker/control", "static"]


@pytest.mark.parametrize("environ, variable", [
    ({"FLOWYARD_OIDC_ISSUER": "https://idp.example.com"}, "FLOWYARD_OIDC_CLIENT_ID"),
    ({"FLOWYARD_OIDC_CLIENT_ID": "flowyard"}, "FLOWYARD_OIDC_ISSUER"),
    ({"FLOWYARD_SSO_ONLY": "1"}, "FLOWYARD_SSO_ONLY"),
    ({"FLOWYARD_OIDC_ISSUER": "https://idp.example.com", "FLOWYARD_OIDC_CLIENT_ID": "f", "FLOWYARD_OIDC_SCOPES": "email"},
     "FLOWYARD_OIDC_SCOPES"),
    ({"FLOWYARD_OIDC_FORGE": "bitbucket"}, "FLOWYARD_OIDC_FORGE"),
])
def test_an_incomplete_sso_configuration_is_refused_naming_the_variable_to_set(environ, variable):
    with pytest.raises(ConfigError, match=variable):
        FlowyardConfig.from_environ(environ)


def test_password_login_allowed_is_read_and_contradicts_sso_only():
    assert FlowyardConfig.from_environ({}).password_login_allowed is False
    assert FlowyardConfig.from_environ({"FLOWYARD_PASSWORD_LOGIN_ALLOWED": "true"}).password_login_allowed is True
    with pytest.raises(ConfigError, match="^FLOWYARD_PASSWORD_LOGIN_ALLOWED: contradicts FLOWYARD_SSO_ONLY"):
        FlowyardConfig.from_environ({"FLOWYARD_OIDC_ISSUER": "https://idp.example.com", "FLOWYARD_OIDC_CLIENT_ID": "f",
                                     "FLOWYARD_SSO_ONLY": "1", "FLOWYARD_PASSWORD_LOGIN_ALLOWED": "1"})


def test_sso_is_read_with_discovery_at_the_issuers_well_known_address():
    config = FlowyardConfig.from_environ({"FLOWYARD_OIDC_ISSUER": "https://idp.example.com/realms/acme/",
                                          "FLOWYARD_OIDC_CLIENT_ID": "flowyard"})
    assert config.sso_enabled
    assert config.oidc_metadata_url == "https://idp.example.com/realms/acme/.well-known/openid-configuration"


def test_production_refuses_an_issuer_without_tls():
    with pytest.raises(ConfigError, match="FLOWYARD_OIDC_ISSUER"):
        FlowyardConfig.from_environ({"FLOWYARD_MODE": "production", "FLOWYARD_SECRET_KEY": "k" * 60,
                                     "FLOWYARD_DATABASE_URL": "postgres://u@h/db",
                                     "FLOWYARD_OIDC_ISSUER": "http://idp.example.com", "FLOWYARD_OIDC_CLIENT_ID": "f"})
