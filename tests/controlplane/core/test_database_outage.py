"""R7, the control plane's part: a web process on a PostgreSQL cluster of the test's own. While the cluster is
down the API answers 503 `database_unavailable` with Retry-After (never a 500 page), /healthz still says the
process is alive; once the cluster is back the same process serves again, with no restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flowyard_testkit.platform import wait_until
from flowyard_testkit.ports import free_port
from flowyard_testkit.postgres import own_postgres  # noqa: F401

ADMIN = str(Path(sys.executable).parent / "flowyard-admin")


@pytest.fixture(autouse=True)
def _database():
    """The test's web process uses its own cluster, not the test database."""


def get(base: str, path: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer fyp_no-such-token"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"raw": body[:200]}, dict(error.headers)


def test_while_the_database_is_down_the_api_answers_503_and_serves_again_after(own_postgres, tmp_path):  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "controlplane.settings.development",
           "FLOWYARD_DATABASE_URL": own_postgres.url, "FLOWYARD_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "web.log"
    with open(log, "wb") as output:
        web = subprocess.Popen([ADMIN, "serve", f"127.0.0.1:{port}"], env=env, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def serving() -> bool:
            try:
                return get(base, "/healthz")[0] == 200
            except OSError:
                assert web.poll() is None, log.read_text()
                return False
        wait_until(serving, timeout=180, what="the web process to migrate its database and serve")
        assert get(base, "/api/v1/runs/")[0] == 401, "an unknown token is refused after a database lookup"

        own_postgres.stop()
        status, body, headers = get(base, "/api/v1/runs/")
        assert status == 503, (body, log.read_text()[-2000:])
        assert body["code"] == "database_unavailable" and "Try again" in body["message"]
        assert headers["Retry-After"] == "5"
        assert get(base, "/healthz")[0] == 200, "the process itself is alive"
        assert get(base, "/readyz")[1]["checks"]["database"]["ok"] is False

        own_postgres.start()
        wait_until(lambda: get(base, "/api/v1/runs/")[0] == 401, timeout=30,
                   what="the same web process to serve again once the database is back")
    finally:
        web.terminate()
        web.wait(timeout=20)
