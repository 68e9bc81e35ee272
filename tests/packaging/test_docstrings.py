"""Every public module, class, method and function of ours says what it is for (ruff's pydocstyle D1 rules)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"
SOURCES = ["platform/src", "builder/src", "runtime_image/src"]


def test_every_public_object_of_the_sources_has_a_docstring():
    result = subprocess.run([str(RUFF), "check", "--no-cache", *SOURCES], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_docstring_check_flags_an_undocumented_function_but_not_a_marked_override(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text(
        '"""A probe."""\n\nfrom typing_extensions import override\n\n\ndef undocumented():\n    return 1\n\n\n'
        'class Hook:\n    """A hook."""\n\n    @override\n    def to_representation(self, value):\n        return value\n'
    )
    config = ["--config", str(ROOT / "pyproject.toml")]
    result = subprocess.run([str(RUFF), "check", "--no-cache", *config, str(module)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "D103" in result.stdout and "undocumented" in result.stdout
    assert "to_representation" not in result.stdout
