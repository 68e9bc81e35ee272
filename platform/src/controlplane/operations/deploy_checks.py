"""Flowyard's deployment checks: Django system checks that run with `flowyard-admin check --deploy` only.

Each check returns `Error`s (`flowyard.E…`: `check --deploy` exits 1) or `Warning`s (`flowyard.W…`: exit 1 only
with `--fail-level WARNING`); every message's hint names the FLOWYARD_ variable to change and how. They read the
settings (`settings.FLOWYARD`, the typed configuration) and, for the Docker hosts, the runtime targets in the
database. docs/operations.md ("Before going live") lists them all.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, Error, register

from controlplane.config import DEVELOPMENT_SECRET_KEY
from controlplane.operations.checks import redact
from controlplane.runtimes.models import RuntimeTarget

MIN_SECRET_KEY_CHARS = 50
EMBEDDED_BROKER_SCHEMES = frozenset({"filesystem", "memory"})
PLAIN_DOCKER_SCHEMES = frozenset({"tcp", "http"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
GENERATE_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"


@register("flowyard", deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E001: the secret key is the development default or shorter than 50 characters."""
    key = settings.FLOWYARD.secret_key
    if key == DEVELOPMENT_SECRET_KEY or len(key) < MIN_SECRET_KEY_CHARS:
        why = "is the development default" if key == DEVELOPMENT_SECRET_KEY else f"has only {len(key)} characters"
        return [Error(f"The secret key {why}: sessions and signed values could be forged.",
                      hint=f"Set FLOWYARD_SECRET_KEY to a random value of at least {MIN_SECRET_KEY_CHARS} "
                           f"characters, e.g. {GENERATE_KEY}", id="flowyard.E001")]
    return []


@register("flowyard", deploy=True)
def check_debug(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E002: DEBUG is on."""
    if settings.DEBUG:
        return [Error("DEBUG is on: error pages show settings, code and queries to anyone.",
                      hint="Set FLOWYARD_DEBUG=false (or unset it).", id="flowyard.E002")]
    return []


@register("flowyard", deploy=True)
def check_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E003: the database is SQLite (FLOWYARD_DATABASE_URL empty or sqlite://)."""
    url = settings.FLOWYARD.database_url
    if not url or url.startswith("sqlite:"):
        where = "the embedded SQLite file (FLOWYARD_DATABASE_URL is empty)" if not url else "SQLite"
        return [Error(f"The database is {where}: one host's file, no concurrent writers, no backups of its own.",
                      hint="Set FLOWYARD_DATABASE_URL=postgres://user:password@host:5432/flowyard (PostgreSQL).",
                      id="flowyard.E003")]
    return []


@register("flowyard", deploy=True)
def check_broker(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E004: the Celery broker is the embedded file-based one (FLOWYARD_BROKER_URL empty)."""
    url = settings.FLOWYARD.broker_url
    if not url or url.partition("://")[0] in EMBEDDED_BROKER_SCHEMES:
        return [Error("The Celery broker is the embedded one: workers on other hosts cannot see its messages, and "
                      "it loses them with the host's disk.",
                      hint="Set FLOWYARD_BROKER_URL to a Redis broker, e.g. redis://redis.internal:6379/0 "
                           "(rediss:// with TLS).", id="flowyard.E004")]
    return []


@register("flowyard", deploy=True)
def check_docker_tls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E005/W003: a Docker runtime target's host reached over TCP without TLS, or without verifying it.

    Reads the runtime targets from the database: flowyard.E006 when it cannot (a check never crashes).
    """
    try:
        targets = list(RuntimeTarget.objects.filter(kind="docker").values_list("name", "settings"))
    except Exception as exc:  # noqa: BLE001 - an unreachable or unmigrated database is reported, not raised
        reason = redact(f"{type(exc).__name__}: {str(exc).strip()}")
        return [Error(f"The runtime targets could not be read from the database ({reason}), so their Docker hosts' "
                      "TLS was not checked.",
                      hint="Check FLOWYARD_DATABASE_URL and that `flowyard-admin migrate` has run, then check again.",
                      id="flowyard.E006")]
    messages: list[CheckMessage] = []
    for name, target_settings in targets:
        for base_url, tls, verify in _docker_hosts(target_settings):
            scheme = base_url.partition("://")[0]
            if scheme in PLAIN_DOCKER_SCHEMES and not tls:
                messages.append(Error(
                    f"Runtime target {name!r} reaches the Docker engine at {base_url} without TLS: anyone on the "
                    "network can run containers as root on that host.",
                    hint='Give the host "tls": {"ca_cert", "client_cert", "client_key"} in the target\'s settings '
                         "(port 2376, the engine started with --tlsverify), or reach it over ssh://.",
                    obj=name, id="flowyard.E005"))
            elif tls and not verify:
                messages.append(checks.Warning(
                    f"Runtime target {name!r} reaches the Docker engine at {base_url} over TLS without verifying "
                    "the engine's certificate.",
                    hint='Remove "verify": false from the host\'s "tls" and give its "ca_cert".',
                    obj=name, id="flowyard.W003"))
    return messages


def _docker_hosts(target_settings: Any) -> list[tuple[str, bool, bool]]:
    """(base_url, tls, verify) of each host a Docker target's settings name; the default engine from DOCKER_HOST."""
    raw_hosts = target_settings.get("hosts") if isinstance(target_settings, dict) else None
    if not raw_hosts:  # the engine docker.from_env() finds: TLS with DOCKER_CERT_PATH, verified with DOCKER_TLS_VERIFY
        docker_host, verify = os.environ.get("DOCKER_HOST", ""), bool(os.environ.get("DOCKER_TLS_VERIFY"))
        return [(docker_host, verify or bool(os.environ.get("DOCKER_CERT_PATH")), verify)] if docker_host else []
    hosts = []
    for raw in raw_hosts if isinstance(raw_hosts, list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("base_url"), str):
            tls = raw.get("tls")
            hosts.append((raw["base_url"], isinstance(tls, dict),
                          not isinstance(tls, dict) or tls.get("verify", True) is not False))
    return hosts


@register("flowyard", deploy=True)
def check_sign_in(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.E007: SSO is not configured and password login was not deliberately allowed."""
    config = settings.FLOWYARD
    if not config.sso_enabled and not config.password_login_allowed:
        return [Error("Single sign-on is not configured, so people sign in with passwords kept in Flowyard.",
                      hint="Set FLOWYARD_OIDC_ISSUER and FLOWYARD_OIDC_CLIENT_ID (docs/sso.md), or, if password "
                           "login is what you want, say so with FLOWYARD_PASSWORD_LOGIN_ALLOWED=true.",
                      id="flowyard.E007")]
    return []


@register("flowyard", deploy=True)
def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.W001: the control plane's public URL is not https://."""
    url = settings.FLOWYARD.public_url
    if not url.startswith("https://"):
        return [checks.Warning(f"FLOWYARD_PUBLIC_URL is {url!r}: run tokens and logs travel to it unencrypted.",
                        hint="Set FLOWYARD_PUBLIC_URL to the https:// address workloads reach the control plane at.",
                        id="flowyard.W001")]
    return []


@register("flowyard", deploy=True)
def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """flowyard.W002: ALLOWED_HOSTS names only loopback addresses."""
    hosts = list(settings.ALLOWED_HOSTS)
    if hosts and all(_is_loopback(host) for host in hosts):
        return [checks.Warning(f"ALLOWED_HOSTS is only loopback ({', '.join(hosts)}): requests to any real host name "
                        "are refused with 400.",
                        hint="Set FLOWYARD_ALLOWED_HOSTS to the host names people and workloads use, comma-separated "
                             "(e.g. flowyard.example.com).", id="flowyard.W002")]
    return []


def _is_loopback(host: str) -> bool:
    """Whether an ALLOWED_HOSTS entry is a loopback name or address (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
