"""Complete a folder of wheels made on the host for the interpreter of an image (scripts/build_controlplane_image).

`pip wheel` on the host evaluates environment markers for the host's Python, and `pip download --python-version`
does too (pip's own limitation), so a dependency that only the image's Python needs is missing: redis wants
`async-timeout; python_full_version < "3.11.3"`, which Debian bookworm's 3.11.2 matches and the host's 3.11.7 does
not. This walks the requirements from the wheels' metadata with the image's marker environment (printed by the
image's own python3, see IMAGE_ENVIRONMENT_CODE) and downloads whatever is missing, until nothing is.

Usage: complete_image_wheels.py WHEEL_DIR REQUIREMENTS CONSTRAINTS ENVIRONMENT_JSON
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

# Run by the image's python3 (stdlib only): the marker environment of PEP 508, as packaging computes it.
IMAGE_ENVIRONMENT_CODE = """
import json, os, platform, sys
v = sys.implementation.version
iv = f"{v.major}.{v.minor}.{v.micro}" + ("" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial))
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": iv, "os_name": os.name,
    "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(), "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}))
"""


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The Requires-Dist entries of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def applies(requirement: Requirement, environment: dict[str, str], extras: set[str]) -> bool:
    """True when the requirement's marker holds in the image for the requested extras (or for none)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def missing(wheel_dir: Path, roots: list[Requirement], environment: dict[str, str]) -> list[Requirement]:
    """Requirements the image needs that no wheel in wheel_dir provides."""
    wheels = {parse_wheel_filename(w.name)[0]: w for w in wheel_dir.glob("*.whl")}
    absent: dict[str, Requirement] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [(requirement, set()) for requirement in roots]
    while pending:
        requirement, parent_extras = pending.pop()
        if not applies(requirement, environment, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in wheels:
            absent.setdefault(name, requirement)
            continue
        pending += [(child, set(requirement.extras)) for child in wheel_requirements(wheels[name])]
    return list(absent.values())


def main(wheel_dir: str, requirements: str, constraints: str, environment_json: str) -> int:
    """Download the missing wheels (their own dependencies on the next pass) until none is missing."""
    folder, environment = Path(wheel_dir), json.loads(environment_json)
    roots = [Requirement(line) for line in Path(requirements).read_text().splitlines() if line.strip()]
    version = environment["python_full_version"]
    abi = "cp" + environment["python_version"].replace(".", "")
    machine = environment["platform_machine"]
    for _ in range(10):
        needed = missing(folder, roots, environment)
        if not needed:
            return 0
        specs = [f"{r.name}{r.specifier}" for r in needed]
        print(f"complete_image_wheels: Python {version} in the image also needs {', '.join(specs)}", file=sys.stderr)
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(folder), "--only-binary=:all:",
            "--python-version", version, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
            "--platform", f"manylinux_2_36_{machine}", "--platform", f"manylinux2014_{machine}",
            "--platform", f"linux_{machine}", "-c", constraints, *specs,
        ]
        subprocess.run(command, check=True)
    print("complete_image_wheels: still missing wheels after 10 passes", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--environment-code":
        print(IMAGE_ENVIRONMENT_CODE)
        sys.exit(0)
    sys.exit(main(*sys.argv[1:]))
