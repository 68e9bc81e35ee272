"""SDK test fixtures: a private cache directory per test and the stub control plane."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_NAME = "flowyard_test_support"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("support.py"))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)

from flowyard_test_support import StubControlPlane  # noqa: E402


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test caches task results under its own temporary directory."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("FLOWYARD_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def control_plane():
    """A running stub of the control plane's runner events endpoint."""
    stub = StubControlPlane().start()
    yield stub
    stub.stop()
