"""scripts/provision's SSO step: the pinned oidc-provider in the npm prefix and Debian's chromium for Playwright."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NPM_PREFIX = Path("/var/lib/flowyard/npm")


def test_oidc_provider_is_the_version_provision_pins():
    pinned = re.search(r"\boidc_provider=(\S+)", (ROOT / "scripts/provision").read_text())[1]
    installed = json.loads((NPM_PREFIX / "node_modules/oidc-provider/package.json").read_text())["version"]
    assert installed == pinned


def test_chromium_is_debian_s_at_the_path_the_browser_fixture_uses():
    result = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.match(r"Chromium \d+\.", result.stdout) and "Debian" in result.stdout
