"""Pytest plugin (`-p flowyard_testkit.environment`): the test session's FLOWYARD_* environment.

Each session gets its own data directory (SQLite test database, embedded files) and its own Celery queue on
the real Redis broker, so sessions running side by side never see each other's state. They are put in the
process environment, so the workers and servers the tests start inherit them, before pytest-django imports
`controlplane.settings.test` (which only checks that they are there). A value already in the environment wins.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
_created_data_dir = pytest.StashKey[str]()


def session_environment() -> dict[str, str]:
    """The variables a test session sets when they are not set already (a new data directory, a new queue)."""
    return {
        "FLOWYARD_BROKER_URL": DEFAULT_BROKER_URL,
        "FLOWYARD_TASK_QUEUE": f"flowyard-test-{uuid.uuid4().hex[:12]}",
    }


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Set the session's variables before any other plugin's start-up (pytest-django sets Django up in this hook)."""
    if "FLOWYARD_DATA_DIR" not in os.environ:
        data_dir = tempfile.mkdtemp(prefix="flowyard-test-")
        early_config.stash[_created_data_dir] = data_dir
        os.environ["FLOWYARD_DATA_DIR"] = data_dir
    os.makedirs(os.path.join(os.environ["FLOWYARD_DATA_DIR"], "static"), exist_ok=True)  # as startup does for a server
    for name, value in session_environment().items():
        os.environ.setdefault(name, value)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the data directory this session created (a directory given in the environment is kept)."""
    data_dir = config.stash.get(_created_data_dir, None)
    if data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
