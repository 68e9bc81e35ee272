"""A workflow's Python dependencies as wheels, downloaded on the host so image builds need no network.

Dependencies come from PATH/requirements.txt, else from `[project].dependencies` in PATH/pyproject.toml.
The resolved wheels are cached per (requirements, target) under ~/.cache/flowyard/wheels: a rebuild with
unchanged requirements copies the same bytes into the build context, so Docker reuses its cached
dependency layer, and asks no index at all. `refresh=True` resolves again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from flowyard_builder.images.errors import DependencyError, InvalidWorkflow

REQUIREMENTS_FILE = "requirements.txt"
PYPROJECT_FILE = "pyproject.toml"
COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class Target:
    """The interpreter and platform of the image the wheels are for."""

    python_version: str = "3.11"
    machine: str = "x86_64"

    def matches_host(self) -> bool:
        """True when this interpreter could have been the image's: then `pip wheel` may build sdists here."""
        host = f"{sys.version_info.major}.{sys.version_info.minor}"
        return host == self.python_version and sys.platform == "linux" and platform.machine() == self.machine


@dataclass(frozen=True)
class Requirements:
    """The requirement lines of a workflow and the file they came from."""

    source: str
    text: str


def read_requirements(path: str | os.PathLike[str]) -> Requirements | None:
    """The workflow's requirements (requirements.txt first, then pyproject.toml), or None when it has none."""
    root = Path(path)
    requirements = root / REQUIREMENTS_FILE
    if requirements.is_file():
        text = requirements.read_text(encoding="utf-8")
        return Requirements(REQUIREMENTS_FILE, text) if _has_requirements(text) else None
    pyproject = root / PYPROJECT_FILE
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidWorkflow(f"{pyproject}: not valid TOML ({exc})") from None
        dependencies = data.get("project", {}).get("dependencies", [])
        if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
            raise InvalidWorkflow(f"{pyproject}: [project].dependencies must be a list of requirement strings")
        if dependencies:
            return Requirements(f"{PYPROJECT_FILE} [project].dependencies", "\n".join(dependencies) + "\n")
    return None


def _has_requirements(text: str) -> bool:
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


def cache_root() -> Path:
    """Where resolved wheel sets are kept: $FLOWYARD_CACHE_DIR or $XDG_CACHE_HOME/flowyard or ~/.cache/flowyard."""
    if os.environ.get("FLOWYARD_CACHE_DIR"):
        return Path(os.environ["FLOWYARD_CACHE_DIR"]) / "wheels"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowyard" / "wheels"


def _pip_command(target: Target, requirements_file: Path, wheel_dir: Path) -> list[str]:
    common = ["--disable-pip-version-check", "--progress-bar", "off", "-r", str(requirements_file)]
    if target.matches_host():
        return [sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(wheel_dir), *common]
    abi = "cp" + target.python_version.replace(".", "")
    platforms = [f"manylinux_2_36_{target.machine}", f"linux_{target.machine}"]
    return [
        sys.executable, "-m", "pip", "download", "--dest", str(wheel_dir), "--only-binary=:all:",
        "--python-version", target.python_version, "--implementation", "cp", "--abi", abi, "--abi", "abi3",
        "--abi", "none", *[arg for p in platforms for arg in ("--platform", p)], *common,
    ]


def _run_pip(command: list[str], cwd: Path, out: TextIO) -> None:
    try:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        raise DependencyError(f"could not run pip: {exc}") from None
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        out.write(f"  pip: {line}")
        out.flush()
        tail = (tail + [line.rstrip()])[-15:]
    if process.wait() != 0:
        raise DependencyError("downloading the dependencies as wheels failed:\n" + "\n".join(tail))


def _resolve(requirements: Requirements, root: Path, target: Target, out: TextIO, refresh: bool) -> Path:
    key_source = json.dumps([requirements.source, requirements.text, target.python_version, target.machine])
    cached = cache_root() / hashlib.sha256(key_source.encode()).hexdigest()[:24]
    if (cached / COMPLETE_MARKER).is_file() and not refresh:
        out.write(f"dependencies: {requirements.source} unchanged; reusing the wheels in {cached}\n")
        return cached
    out.write(f"dependencies: downloading wheels for {requirements.source} (Python {target.python_version}, "
              f"linux {target.machine})\n")
    cached.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=cached.name + ".", dir=cached.parent))
    try:
        requirements_file = work / "requirements.in"
        requirements_file.write_text(requirements.text, encoding="utf-8")
        wheel_dir = work / "wheels"
        wheel_dir.mkdir()
        _run_pip(_pip_command(target, requirements_file, wheel_dir), root, out)
        not_wheels = [p.name for p in wheel_dir.iterdir() if p.suffix != ".whl"]
        if not_wheels:
            raise DependencyError(f"pip produced files that are not wheels: {', '.join(sorted(not_wheels))}")
        (wheel_dir / COMPLETE_MARKER).touch()
        shutil.rmtree(cached, ignore_errors=True)
        wheel_dir.rename(cached)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return cached


def pinned_requirements(wheel_dir: Path) -> list[str]:
    """`name==version` for every wheel in `wheel_dir`: exactly what was resolved on the host."""
    pins = []
    for wheel in sorted(wheel_dir.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        pins.append(f"{name}=={version}")
    return pins


def prepare_wheels(
    path: str | os.PathLike[str], dest: Path, target: Target = Target(), out: TextIO | None = None, refresh: bool = False
) -> list[str] | None:
    """Put the workflow's wheels in dest/wheels and the pins in dest/requirements.txt; None without dependencies."""
    out = out or sys.stderr
    requirements = read_requirements(path)
    if requirements is None:
        return None
    cached = _resolve(requirements, Path(path).resolve(), target, out, refresh)
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for wheel in sorted(cached.glob("*.whl")):
        shutil.copyfile(wheel, wheels / wheel.name)
    pins = pinned_requirements(wheels)
    if not pins:  # only options in requirements.txt: nothing to install
        shutil.rmtree(wheels)
        return None
    (dest / "requirements.txt").write_text("".join(pin + "\n" for pin in pins), encoding="utf-8")
    return pins
