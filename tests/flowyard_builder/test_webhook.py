"""`flowyard webhook create|rotate|show PROJECT/WORKFLOW --env ENV` against a live control plane."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from flowyard_builder.cli import main
from flowyard_spec.states import Role

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = re.compile(r"^secret: (fyw_\S+)$", re.MULTILINE)
URL = re.compile(r"^url:\s+(\S+)$", re.MULTILINE)


@pytest.fixture
def tenant():
    """Team alpha; build_tenant gives its test deployment of etl a webhook already."""
    from flowyard_testkit.tenants import build_tenant

    return build_tenant("alpha")


@pytest.fixture
def cli(live_server, tenant, monkeypatch):
    """`cli(*args, role=Role.DEVELOPER)`: main(["webhook", ...]) with a personal token of a user with `role`."""
    from controlplane.tenancy.services import personal_token_create

    monkeypatch.setenv("FLOWYARD_API_URL", live_server.url)

    def call(*args: str, role: Role = Role.DEVELOPER) -> int:
        """Run the command; returns its exit code."""
        monkeypatch.setenv("FLOWYARD_TOKEN", personal_token_create(actor=tenant.users[role], name="cli")[1])
        return main(["webhook", *args])

    return call


def bearer_post(url: str, secret: str, payload: dict) -> int:
    """POST `payload` to a webhook URL with its secret as a bearer token; the status."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_create_prints_the_url_and_the_secret_once_and_the_url_starts_runs(tenant, cli, capsys, live_server):
    assert cli("create", "alpha-main/report", "--env", "test") == 0
    out = capsys.readouterr()
    secret, url = SECRET.search(out.out).group(1), URL.search(out.out).group(1)
    assert url.startswith(f"{live_server.url}/api/v1/hooks/") and "shown this once" in out.err
    assert bearer_post(url, secret, {"limit": 2}) == 201
    assert cli("show", "alpha-main/report", "--env", "test", role=Role.VIEWER) == 0
    shown = capsys.readouterr().out
    assert url in shown and "enabled" in shown and secret not in shown and "secret" not in shown


def test_rotate_prints_a_new_secret_and_the_old_one_stops_working(tenant, cli, capsys):
    old = tenant.extra["webhook_secret"]
    assert cli("rotate", "alpha-main/etl", "--env", "test") == 0
    out = capsys.readouterr().out
    new, url = SECRET.search(out).group(1), URL.search(out).group(1)
    assert new != old
    assert bearer_post(url, old, {}) == 401
    assert bearer_post(url, new, {}) == 201


def test_refusals_exit_with_the_reason(tenant, cli, capsys):
    assert cli("create", "alpha-main/etl", "--env", "test") == 3
    err = capsys.readouterr().err
    assert "HTTP 409" in err and "already has a webhook; rotate its secret" in err
    assert cli("create", "alpha-main/report", "--env", "test", role=Role.VIEWER) == 3
    assert "needs role developer; yours: viewer" in capsys.readouterr().err
    assert cli("create", "alpha-main/etl", "--env", "production") == 3, "production needs an admin"
    assert "needs role admin" in capsys.readouterr().err
    assert cli("show", "alpha-main/report", "--env", "test") == 1
    assert "has no webhook; make one with `flowyard webhook create`" in capsys.readouterr().err
    assert cli("create", "alpha-main/etl", "--env", "production", role=Role.ADMIN) == 0
