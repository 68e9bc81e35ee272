"""/healthz, /readyz and `flowyard-admin check`/`readiness` against the real database and real Redis brokers."""

from __future__ import annotations

import io
import time

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from controlplane.cli import main
from controlplane.operations.checks import readiness, redact
from controlplane.runtimes.models import RuntimeTarget
from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port
from flowyard_testkit.services import own_redis  # noqa: F401



def readyz():
    response = Client().get("/readyz")
    return response.status_code, response.json()


def test_healthz_answers_ok_without_checks(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ok_with_the_real_database_and_the_session_broker():
    status, body = readyz()
    assert status == 200, body
    assert body["status"] == "ok"
    assert {"database", "broker"} <= set(body["checks"])
    for check in body["checks"].values():
        assert check["ok"] is True
        assert isinstance(check["detail"], str)
        assert isinstance(check["seconds"], float)


def test_readyz_fails_while_the_broker_is_down_and_recovers(settings, own_redis):
    settings.CELERY_BROKER_URL = own_redis.url
    assert readyz()[0] == 200

    own_redis.stop()
    started = time.monotonic()
    status, body = readyz()
    assert time.monotonic() - started < 5
    assert status == 503
    assert body["status"] == "failing"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True

    own_redis.start()  # the same port
    status, body = wait_until(lambda: (answer := readyz())[0] == 200 and answer, timeout=15, what="/readyz to recover")
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_names_an_unreachable_docker_target(tmp_path):
    RuntimeTarget.objects.create(
        name="far-docker", kind="docker",
        settings={"hosts": [{"base_url": f"unix://{tmp_path / 'nobody-listens.sock'}"}]},
    )
    RuntimeTarget.objects.create(name="here", kind="local")
    status, body = readyz()
    assert status == 503
    assert body["checks"]["runtime:far-docker"]["ok"] is False
    assert "nobody-listens.sock" in body["checks"]["runtime:far-docker"]["detail"]
    assert body["checks"]["runtime:here"]["ok"] is True


def test_details_never_carry_broker_credentials(settings):
    settings.CELERY_BROKER_URL = f"redis://someone:s3cret@127.0.0.1:{free_port()}/0"
    result = readiness()
    assert result.checks["broker"].ok is False
    assert "s3cret" not in result.checks["broker"].detail
    assert redact("redis://u:p@host:1/0 and amqp://x@y//") == "redis://***@host:1/0 and amqp://***@y//"


def test_readiness_command_prints_lines_and_exits_by_outcome(settings, own_redis):
    settings.CELERY_BROKER_URL = own_redis.url
    out = io.StringIO()
    call_command("readiness", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("ok   database (") and line.endswith(" ms)") for line in lines), lines
    assert any(line.startswith("ok   broker (") for line in lines), lines

    own_redis.stop()
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("readiness", stdout=out)
    assert failed.value.returncode == 1
    assert any(line.startswith("FAIL broker: ") for line in out.getvalue().splitlines())


def test_flowyard_admin_check_runs_system_checks_then_readiness(settings, own_redis, capsys):
    settings.CELERY_BROKER_URL = own_redis.url
    main(["check"])  # returns: exit code 0
    out = capsys.readouterr().out
    assert "System check identified no issues" in out
    assert "ok   broker (" in out

    own_redis.stop()
    with pytest.raises(SystemExit) as exited:
        main(["check"])
    assert exited.value.code == 1
    assert "FAIL broker: " in capsys.readouterr().out
