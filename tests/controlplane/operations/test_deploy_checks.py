"""`flowyard-admin check --deploy`: Flowyard's deployment checks fail on every unsafe setting and name its variable."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from controlplane.operations.deploy_checks import check_docker_tls
from controlplane.runtimes.models import RuntimeTarget
from flowyard_testkit.platform import database_url_of

REPO_ROOT = Path(__file__).resolve().parents[3]
ADMIN = Path(sys.executable).parent / "flowyard-admin"
GOOD_SECRET = secrets.token_urlsafe(48)  # 64 characters
GOOD_ENVIRONMENT = {
    "FLOWYARD_SECRET_KEY": GOOD_SECRET,
    "FLOWYARD_DATABASE_URL": "postgres://flowyard:secret@db.invalid:5432/flowyard",
    "FLOWYARD_BROKER_URL": "redis://redis.invalid:6379/0",
    "FLOWYARD_OIDC_ISSUER": "https://idp.example.com",
    "FLOWYARD_OIDC_CLIENT_ID": "flowyard",
    "FLOWYARD_PUBLIC_URL": "https://flowyard.example.com",
    "FLOWYARD_ALLOWED_HOSTS": "flowyard.example.com",
}
GOOD_CONFIG = {
    "secret_key": GOOD_SECRET, "debug": False, "database_url": GOOD_ENVIRONMENT["FLOWYARD_DATABASE_URL"],
    "broker_url": GOOD_ENVIRONMENT["FLOWYARD_BROKER_URL"], "oidc_issuer": "https://idp.example.com",
    "oidc_client_id": "flowyard", "public_url": "https://flowyard.example.com",
}

pytestmark = pytest.mark.django_db


def flowyard_admin_check_deploy(tmp_path: Path, environment: dict[str, str]) -> tuple[int, str]:
    """Run `flowyard-admin check --deploy` with only `environment`'s FLOWYARD_ variables; its exit code and output."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("FLOWYARD_", "DOCKER_")) and name != "DJANGO_SETTINGS_MODULE"}
    environ.update(FLOWYARD_DATA_DIR=str(tmp_path / "data"), **environment)
    result = subprocess.run([str(ADMIN), "check", "--deploy"], cwd=REPO_ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def flowyard_messages(config_changes: dict[str, object], **django_settings: object) -> list:
    """Flowyard's deployment check messages for the good configuration changed by `config_changes`."""
    config = settings.FLOWYARD.model_copy(update={**GOOD_CONFIG, **config_changes})
    overrides = {"DEBUG": False, "ALLOWED_HOSTS": ["flowyard.example.com"], **django_settings}
    with override_settings(FLOWYARD=config, **overrides):
        return run_checks(tags=["flowyard"], include_deployment_checks=True)


def test_a_good_production_setup_passes_the_deploy_checks_with_exit_0(tmp_path):
    environment = {
        **GOOD_ENVIRONMENT,
        "DJANGO_SETTINGS_MODULE": "production_on_test_database",
        "PYTHONPATH": str(Path(__file__).parent),
        "DEPLOY_CHECKS_TEST_DATABASE_URL": database_url_of(connection),
    }
    code, output = flowyard_admin_check_deploy(tmp_path, environment)
    assert code == 0, output
    assert "flowyard." not in output, output


def test_every_unsafe_setting_fails_the_deploy_checks_naming_its_id_and_variable(tmp_path):
    environment = {"FLOWYARD_SECRET_KEY": "too-short", "FLOWYARD_DEBUG": "true",
                   "FLOWYARD_PUBLIC_URL": "http://flowyard.example.com"}
    code, output = flowyard_admin_check_deploy(tmp_path, environment)  # an empty, unmigrated SQLite database
    assert code == 1, output
    assert "Traceback" not in output, output
    for check_id, variable in [
        ("flowyard.E001", "FLOWYARD_SECRET_KEY"), ("flowyard.E002", "FLOWYARD_DEBUG"),
        ("flowyard.E003", "FLOWYARD_DATABASE_URL"), ("flowyard.E004", "FLOWYARD_BROKER_URL"),
        ("flowyard.E006", "FLOWYARD_DATABASE_URL"), ("flowyard.E007", "FLOWYARD_PASSWORD_LOGIN_ALLOWED"),
        ("flowyard.W001", "FLOWYARD_PUBLIC_URL"), ("flowyard.W002", "FLOWYARD_ALLOWED_HOSTS"),
    ]:
        message = next((line + next_line for line, next_line in zip(output.splitlines(), output.splitlines()[1:])
                        if f"({check_id})" in line), "")
        assert variable in message, f"{check_id} should name {variable}:\n{output}"


def test_the_good_configuration_raises_no_flowyard_message():
    assert flowyard_messages({}) == []


@pytest.mark.parametrize("changes,django_settings,expected", [
    ({"secret_key": "flowyard-development-only-secret-key-do-not-use-in-production"}, {}, "flowyard.E001"),
    ({"secret_key": "x" * 49}, {}, "flowyard.E001"),
    ({}, {"DEBUG": True}, "flowyard.E002"),
    ({"database_url": ""}, {}, "flowyard.E003"),
    ({"database_url": "sqlite:////srv/flowyard.sqlite3"}, {}, "flowyard.E003"),
    ({"broker_url": ""}, {}, "flowyard.E004"),
    ({"broker_url": "filesystem://"}, {}, "flowyard.E004"),
    ({"oidc_issuer": "", "oidc_client_id": ""}, {}, "flowyard.E007"),
    ({"public_url": "http://flowyard.example.com"}, {}, "flowyard.W001"),
    ({}, {"ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"]}, "flowyard.W002"),
])
def test_each_unsafe_setting_alone_raises_its_own_message(changes, django_settings, expected):
    assert [message.id for message in flowyard_messages(changes, **django_settings)] == [expected]


def test_password_login_deliberately_allowed_passes_without_sso():
    assert flowyard_messages({"oidc_issuer": "", "oidc_client_id": "", "password_login_allowed": True}) == []


def test_a_real_host_name_among_loopback_ones_is_enough():
    assert flowyard_messages({}, ALLOWED_HOSTS=["localhost", "flowyard.example.com"]) == []


def test_an_error_fails_the_check_command_and_a_warning_only_at_fail_level_warning():
    config = settings.FLOWYARD.model_copy(update=GOOD_CONFIG)
    with override_settings(FLOWYARD=config, DEBUG=False, ALLOWED_HOSTS=["flowyard.example.com"]):
        with override_settings(FLOWYARD=config.model_copy(update={"broker_url": ""})):
            with pytest.raises(SystemCheckError, match=r"flowyard\.E004"):
                call_command("check", "--deploy", "--tag", "flowyard")
        with override_settings(FLOWYARD=config.model_copy(update={"public_url": "http://flowyard.example.com"})):
            call_command("check", "--deploy", "--tag", "flowyard")  # a warning: passes
            with pytest.raises(SystemCheckError, match=r"flowyard\.W001"):
                call_command("check", "--deploy", "--tag", "flowyard", "--fail-level", "WARNING")


def test_a_docker_host_over_tcp_without_tls_is_an_error_naming_the_target():
    RuntimeTarget.objects.create(name="plain", kind="docker", settings={"hosts": [{"base_url": "tcp://10.0.0.5:2375"}]})
    messages = check_docker_tls()
    assert [(message.id, message.obj) for message in messages] == [("flowyard.E005", "plain")]
    assert "tcp://10.0.0.5:2375" in messages[0].msg and '"tls"' in messages[0].hint


def test_docker_hosts_with_tls_on_a_socket_or_over_ssh_pass():
    tls = {"ca_cert": "/certs/ca.pem", "client_cert": "/certs/cert.pem", "client_key": "/certs/key.pem"}
    RuntimeTarget.objects.create(name="secure", kind="docker", settings={"hosts": [
        {"base_url": "tcp://10.0.0.5:2376", "tls": tls}, {"base_url": "unix:///var/run/docker.sock"},
        {"base_url": "ssh://flowyard@10.0.0.6"}]})
    RuntimeTarget.objects.create(name="fargate", kind="ecs", settings={"cluster": "flowyard"})
    assert check_docker_tls() == []


def test_tls_without_verifying_the_engine_is_a_warning():
    RuntimeTarget.objects.create(name="unverified", kind="docker", settings={"hosts": [
        {"base_url": "tcp://10.0.0.5:2376", "tls": {"verify": False}}]})
    assert [message.id for message in check_docker_tls()] == ["flowyard.W003"]


def test_the_default_engine_over_tcp_without_tls_verify_is_an_error(monkeypatch):
    RuntimeTarget.objects.create(name="default-engine", kind="docker", settings={})
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    assert [message.id for message in check_docker_tls()] == ["flowyard.E005"]
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs")
    assert [message.id for message in check_docker_tls()] == ["flowyard.W003"]  # TLS, the engine not verified
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert check_docker_tls() == []
