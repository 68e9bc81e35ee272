"""The repository layout keeps its promises: `platform` stays the standard library, import boundaries hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_platform_from_the_repository_root_is_still_the_standard_library():
    assert not (ROOT / "platform" / "__init__.py").exists()
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"


def test_import_boundaries_hold():
    """flowyard_spec imports nothing of ours; the SDK and the builder never import Django or the control plane;
    the control plane's apps are one-way layers."""
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_the_import_boundary_check_catches_a_violation(tmp_path):
    """The contract check is live: a config forbidding what the control plane does import must fail."""
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    controlplane\ninclude_external_packages = True\n\n"
        "[importlinter:contract:probe]\nname = probe\ntype = forbidden\nsource_modules =\n    controlplane\n"
        "forbidden_modules =\n    django\n"
    )
    result = subprocess.run([str(BIN / "lint-imports"), "--config", str(config)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "broken" in result.stdout


def test_both_command_line_entry_points_answer():
    flowyard = subprocess.run([str(BIN / "flowyard"), "--version"], capture_output=True, text=True)
    assert flowyard.returncode == 0 and flowyard.stdout.startswith("flowyard ")
    admin = subprocess.run([str(BIN / "flowyard-admin"), "help", "serve"], capture_output=True, text=True, cwd=ROOT)
    assert admin.returncode == 0, admin.stderr
    assert "127.0.0.1:8000" in admin.stdout
