"""`flowyard login` against the real provider: the CLI shows a code, the person approves it at the provider, and the
CLI ends up with a working personal token (expiring, in a 0600 credentials file); `flowyard logout` revokes it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import requests

from flowyard_testkit.oidc import oidc_provider  # noqa: F401
from flowyard_testkit.platform import wait_until
from flowyard_testkit.sso import PASSWORD, SsoWorld, sso_world  # noqa: F401

FLOWYARD = Path(sys.executable).parent / "flowyard"
COMPLETE_URL = re.compile(r"\(or open (\S+), which has the code filled in\)")


def start_login(world: SsoWorld, credentials: Path) -> tuple[subprocess.Popen, list[str]]:
    """`flowyard login --no-browser` in the background; its stderr lines are collected as they come."""
    env = {key: value for key, value in os.environ.items() if key not in ("FLOWYARD_TOKEN", "FLOWYARD_API_URL")}
    process = subprocess.Popen([str(FLOWYARD), "login", "--api", world.url, "--no-browser", "--name", "e2e laptop"],
                               env=env | {"FLOWYARD_CREDENTIALS_FILE": str(credentials)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True).start()
    return process, lines


def test_flowyard_login_by_device_code_yields_a_working_expiring_token_and_logout_revokes_it(sso_world: SsoWorld, tmp_path):
    world = sso_world
    world.person("carol", "analytics-developers")
    credentials = tmp_path / "credentials.json"
    process, lines = start_login(world, credentials)
    try:
        match = wait_until(lambda: next(filter(None, map(COMPLETE_URL.search, list(lines))), None), timeout=30,
                           what="flowyard login to show where to sign in")
        world.provider.device_approve(match.group(1), "carol", PASSWORD)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, "".join(lines)
    assert "Signed in to" in stdout and "as carol" in stdout
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    stored = json.loads(credentials.read_text())
    login = stored["logins"][stored["default"]]
    token = login["token"]
    assert token not in stdout, "the token itself is never printed"
    me = requests.get(f"{world.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["roles"] == {world.analytics.project.slug: "developer",
                                                            world.analytics.empty_project.slug: "developer"}
    listed = requests.get(f"{world.url}/api/v1/tokens/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert [t["name"] for t in listed.json()["results"]] == ["e2e laptop"]
    assert listed.json()["results"][0]["expires_at"], "a CLI login's token expires"

    logout = subprocess.run([str(FLOWYARD), "logout", "--api", world.url], capture_output=True, text=True, timeout=60,
                            env=os.environ | {"FLOWYARD_CREDENTIALS_FILE": str(credentials)})
    assert logout.returncode == 0, logout.stderr
    assert requests.get(f"{world.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 401
