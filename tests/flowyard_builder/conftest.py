"""Fixtures of every `flowyard` CLI test: the credentials file is a temporary one, never the person's own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def credentials_file(tmp_path, monkeypatch):
    """$FLOWYARD_CREDENTIALS_FILE in a folder of this test (not created yet), so no test reads or writes ~/.config."""
    path = tmp_path / "config" / "flowyard" / "credentials.json"
    monkeypatch.setenv("FLOWYARD_CREDENTIALS_FILE", str(path))
    return path
