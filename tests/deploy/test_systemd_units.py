"""deploy/systemd: the units pass `systemd-analyze verify`, carry the hardening the README promises, and the example
environment file names only variables the control plane reads.

`systemd-analyze verify` also checks that every Exec*= program exists, so each unit is verified inside a throwaway
root (`--root`) holding the units in etc/systemd/system, stub programs at the units' paths and a copy of the host's
system units (sysinit.target and the rest the default dependencies name). No systemd needs to be running.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from controlplane.config import FlowyardConfig

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
UNITS = sorted(path.name for path in SYSTEMD.iterdir() if path.suffix in {".service", ".target"})
SERVICES = [name for name in UNITS if name.endswith(".service")]
LONG_RUNNING = ["flowyard-web.service", "flowyard-worker.service", "flowyard-beat.service"]
ENV_EXAMPLE = SYSTEMD / "flowyard.env.example"
# Read by the units' command lines or by gunicorn, not by the control plane's FlowyardConfig.
DEPLOY_VARIABLES = {"FLOWYARD_BIND", "FLOWYARD_WEB_WORKERS", "FLOWYARD_WEB_THREADS", "GUNICORN_CMD_ARGS"}
REQUIRED_VARIABLES = {
    "FLOWYARD_MODE", "FLOWYARD_SECRET_KEY", "FLOWYARD_DATABASE_URL", "FLOWYARD_BROKER_URL", "FLOWYARD_PUBLIC_URL",
    "FLOWYARD_ALLOWED_HOSTS", "FLOWYARD_DATA_DIR", "FLOWYARD_SMTP_HOST", "FLOWYARD_OIDC_ISSUER",
    "FLOWYARD_OIDC_CLIENT_ID",
}
HARDENING = {
    "User": "flowyard", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/flowyard",
    "PrivateTmp": "yes", "ProtectHome": "yes", "EnvironmentFile": "/etc/flowyard/flowyard.env",
}
_EXEC = re.compile(r"^Exec[A-Za-z]+=[-@:+!]*(\S+)")


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    assert path, "systemd-analyze is missing: apt-get install systemd (Debian)"
    return path


def host_unit_directory() -> Path:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "sysinit.target").exists():
            return candidate.resolve()
    raise AssertionError("no system unit directory with sysinit.target on this host")


def unit_lines(text: str) -> list[str]:
    """The unit's logical lines: comments dropped, backslash continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and raw.lstrip().startswith(("#", ";")):
            continue
        if raw.endswith("\\"):
            current += raw[:-1] + " "
            continue
        lines.append((current + raw).strip())
        current = ""
    return [line for line in lines if line]


def directives(name: str, section: str = "Service") -> dict[str, list[str]]:
    """KEY -> every value of that key in [section] of the unit (keys may repeat)."""
    values: dict[str, list[str]] = {}
    inside = False
    for line in unit_lines((SYSTEMD / name).read_text()):
        if line.startswith("["):
            inside = line == f"[{section}]"
        elif inside:
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def verification_root(base: Path, units: dict[str, str]) -> Path:
    """A root for `systemd-analyze verify --root`: the given units, stubs for their programs, the host's units."""
    root = base / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    # A copy, not a symlink: systemd-analyze resolves links inside --root, where an absolute one loops on itself.
    shutil.copytree(host_unit_directory(), root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    for name, text in units.items():
        (root / "etc" / "systemd" / "system" / name).write_text(text)
        for line in unit_lines(text):
            match = _EXEC.match(line)
            if match and match.group(1).startswith("/"):
                stub = root / match.group(1).lstrip("/")
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\nexit 0\n")
                stub.chmod(0o755)
    return root


def verify(root: Path, unit: str) -> subprocess.CompletedProcess:
    return subprocess.run([systemd_analyze(), "verify", "--man=no", f"--root={root}", unit],
                          capture_output=True, text=True, timeout=60)


def all_units() -> dict[str, str]:
    return {name: (SYSTEMD / name).read_text() for name in UNITS}


def test_the_units_are_the_web_worker_beat_migrate_services_and_their_target():
    assert UNITS == ["flowyard-beat.service", "flowyard-migrate.service", "flowyard-web.service",
                     "flowyard-worker.service", "flowyard.target"]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify_passes_without_a_warning(unit, tmp_path):
    result = verify(verification_root(tmp_path, all_units()), unit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == ""


def test_the_verification_reports_a_misspelt_key_and_a_missing_program(tmp_path):
    # The check above is not vacuous: systemd-analyze verify warns about what it does not understand, and fails when
    # a program is missing (here the unit's stub is removed after the root is made).
    units = all_units()
    units["flowyard-web.service"] = units["flowyard-web.service"].replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    root = verification_root(tmp_path, units)
    result = verify(root, "flowyard-web.service")
    assert "Unknown key 'NoNewPrivilege'" in result.stdout + result.stderr
    (root / "opt" / "flowyard" / "venv" / "bin" / "gunicorn").unlink()
    result = verify(root, "flowyard-web.service")
    assert result.returncode != 0
    assert "gunicorn" in result.stdout + result.stderr


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_runs_hardened_as_flowyard_with_the_environment_file(unit):
    service = directives(unit)
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: {key}={service.get(key)}"
    assert directives(unit, "Unit")["PartOf"] == ["flowyard.target"]
    assert directives(unit, "Install")["WantedBy"] == ["flowyard.target"]


@pytest.mark.parametrize("unit", LONG_RUNNING)
def test_the_long_running_services_restart_on_failure_after_the_migrations(unit):
    service = directives(unit)
    assert service["Restart"] == ["on-failure"]
    assert service["RestartSec"]
    assert service["ExecStart"][0].startswith("/opt/flowyard/venv/bin/")
    unit_section = directives(unit, "Unit")
    assert unit_section["Requires"] == ["flowyard-migrate.service"]
    assert "flowyard-migrate.service" in unit_section["After"][0].split()


def test_only_the_migrate_unit_migrates_and_it_collects_the_static_files_too():
    migrate = directives("flowyard-migrate.service")
    assert migrate["Type"] == ["oneshot"]
    assert migrate["ExecStart"] == ["/opt/flowyard/venv/bin/flowyard-admin migrate --noinput",
                                    "/opt/flowyard/venv/bin/flowyard-admin collectstatic --noinput --verbosity 0"]
    for unit in LONG_RUNNING:
        assert "migrate" not in " ".join(directives(unit).get("ExecStart", []) + directives(unit).get("ExecStartPre", []))
    wants = directives("flowyard.target", "Unit")["Wants"][0].split()
    assert sorted(wants) == sorted(SERVICES)


def test_the_web_units_gunicorn_command_line_is_valid_for_the_installed_gunicorn(tmp_path):
    # The unit's own ExecStart, with its default variables filled in and the venv of this checkout for /opt/flowyard:
    # gunicorn parses every option and loads controlplane.wsgi with the production settings (--check-config).
    service = directives("flowyard-web.service")
    defaults = dict(pair.split("=", 1) for line in service["Environment"] for pair in line.split())
    command = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match.group(1)], service["ExecStart"][0]).split()
    venv_bin = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
    command[0] = str(venv_bin / Path(command[0]).name)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWYARD_")}
    environment.update(defaults, FLOWYARD_SECRET_KEY="s" * 64, FLOWYARD_DATA_DIR=str(tmp_path),
                       FLOWYARD_DATABASE_URL="postgres://flowyard@127.0.0.1:5432/flowyard")
    result = subprocess.run([*command, "--check-config"], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert defaults["DJANGO_SETTINGS_MODULE"] == "controlplane.settings.production"


def example_variables() -> tuple[set[str], set[str]]:
    """(variables set, variables only mentioned in a comment) in flowyard.env.example."""
    set_, commented = set(), set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#?)([A-Z][A-Z0-9_]*)=", line)
        if match:
            (commented if match.group(1) else set_).add(match.group(2))
    return set_, commented


def test_the_example_environment_file_sets_what_people_must_set():
    set_, _ = example_variables()
    assert REQUIRED_VARIABLES <= set_, REQUIRED_VARIABLES - set_


def test_the_example_environment_file_names_only_variables_something_reads():
    set_, commented = example_variables()
    known = {f"FLOWYARD_{name.upper()}" for name in FlowyardConfig.model_fields} | DEPLOY_VARIABLES
    assert (set_ | commented) - known == set()
    # and a production configuration made of its values is accepted by the control plane's own checks
    values = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if re.match(r"^FLOWYARD_[A-Z0-9_]+=", line))
    values["FLOWYARD_SECRET_KEY"] = "x" * 64
    assert FlowyardConfig.from_environ(values).mode == "production"
