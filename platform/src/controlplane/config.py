"""Flowyard's typed configuration, read once from `FLOWYARD_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PREFIX = "FLOWYARD_"
PREPARE_THRESHOLD = 1  # a PostgreSQL connection prepares a statement the second time it runs it (see django_databases)
DEVELOPMENT_SECRET_KEY = "flowyard-development-only-secret-key-do-not-use-in-production"
Mode = Literal["development", "production"]


class ConfigError(Exception):
    """A configuration variable is missing or invalid; the message names the variable."""


class FlowyardConfig(BaseModel):
    """Every setting the control plane reads from its environment, with its type and default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Field(
        "development", description="Which settings profile applies."
    )
    secret_key: str = Field(DEVELOPMENT_SECRET_KEY, description="Django SECRET_KEY (required in production).")
    debug: bool = Field(False, description="Django DEBUG; never on in production.")
    database_url: str = Field("", description="postgres://user:pass@host:port/db; empty means SQLite.")
    data_dir: str = Field("var", description="Where the embedded SQLite database and files live.")
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"], description="Comma-separated host names."
    )
    csrf_trusted_origins: list[str] = Field(default_factory=list, description="Comma-separated origins.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    personal_token_max_days: int = Field(365, ge=1, description="Longest lifetime of a personal API token.")
    broker_url: str = Field(
        "", description="Celery broker, e.g. redis://127.0.0.1:6379/0; empty: an embedded file-based broker."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="The control plane's address as workloads reach it (the runner's API)."
    )
    https_redirect: bool = Field(
        True, description="In production, redirect plain-HTTP requests to https://. Turn it off only where a proxy in "
                          "front already redirects, or where every client (runners included) reaches the control "
                          "plane on a private network, as in deploy/compose.",
    )
    task_queue: str = Field("flowyard", description="The Celery queue runs' tasks go to.")
    scheduler_queue: str = Field(
        "", description="The Celery queue of the scheduler's periodic pass; empty: the task queue. A queue of its own "
                        "(with its own worker) keeps a burst of launches from delaying ticks.",
    )
    reconcile_seconds: float = Field(10, gt=0, description="How often the reconciler compares runs with runtimes.")
    start_timeout_seconds: float = Field(600, gt=0, description="Longest a run may stay QUEUED or STARTING.")
    heartbeat_timeout_seconds: float = Field(120, gt=0, description="Longest a RUNNING run's runner may stay silent.")
    crash_retries: int = Field(2, ge=0, le=10, description="Retries of a run that crashed (not the workflow's fault).")
    cancel_grace_seconds: float = Field(30, ge=0, description="Between SIGTERM and SIGKILL when cancelling.")
    scheduler_seconds: float = Field(
        1, gt=0, le=60, description="How often Celery beat asks the scheduler to fire due ticks (and dispatch backfills)."
    )
    schedule_lead_seconds: float = Field(
        30, ge=0, le=300, description="How far ahead of its tick a scheduled run is created and its container started; "
                                      "the runner waits for the tick, so user code starts on time.",
    )
    schedule_grace_seconds: float = Field(
        60, gt=0, description="A tick older than this when the scheduler first sees it counts as missed (downtime) "
                              "and follows the schedule's catch-up policy; a younger one fires late.",
    )
    installation_id: str = Field(
        "", pattern=r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})?$",
        description="Labels every workload this control plane launches, so that installations sharing a Docker "
                    "engine or ECS cluster never list or remove each other's; empty: a random id kept in the database.",
    )

    metrics_token: str = Field(
        "", description="The bearer token GET /metrics asks for (Authorization: Bearer <token>); empty: /metrics "
                        "answers only requests from loopback (docs/metrics.md). Never logged.",
    )

    # -- single sign-on (controlplane.sso; docs/sso.md) ----------------------------------------------------
    oidc_issuer: str = Field(
        "", description="The OpenID Connect provider's issuer URL (discovery at ISSUER/.well-known/openid-configuration); "
                        "empty: SSO is off.",
    )
    oidc_discovery_url: str = Field("", description="Where to read the provider's metadata, when not at the issuer's "
                                                    "well-known address.")
    oidc_client_id: str = Field("", description="The web login's client id at the provider.")
    oidc_client_secret: str = Field("", description="The web login's client secret (confidential client); never logged.")
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for, space-separated; add the "
                                                                 "provider's groups scope and offline_access.")
    oidc_groups_claim: str = Field("groups", description="The claim listing the person's groups.")
    oidc_username_claim: str = Field("preferred_username", description="The claim that becomes the username.")
    oidc_cli_client_id: str = Field("", description="A public client with the device authorization grant, for "
                                                    "`flowyard login`; empty: CLI login is off.")
    oidc_cli_client_secret: str = Field("", description="The CLI client's secret, for providers that give device-flow "
                                                        "clients one (Google); empty: a public client.")
    oidc_forge_claim: str = Field("", description="A claim holding the person's forge login (e.g. gitlab_username), "
                                                  "recorded as their forge identity; empty: none.")
    oidc_forge: Literal["gitlab", "github"] = Field("gitlab", description="The forge FLOWYARD_OIDC_FORGE_CLAIM names.")
    oidc_clock_skew_seconds: int = Field(60, ge=0, le=600, description="Leeway on an ID token's times.")
    oidc_recheck_seconds: float = Field(900, gt=0, description="How often people's accounts are re-checked with the "
                                                               "provider (refresh token).")
    sso_only: bool = Field(False, description="Password login only for superusers; memberships only from groups.")
    password_login_allowed: bool = Field(
        False, description="Says that people signing in with passwords (no SSO) is deliberate; `flowyard-admin check "
                           "--deploy` reports flowyard.E007 when neither this nor FLOWYARD_OIDC_ISSUER is set.",
    )
    session_seconds: int = Field(43200, ge=60, description="Lifetime of a browser session.")
    cli_token_days: int = Field(30, ge=1, le=365, description="Lifetime of the token `flowyard login` mints.")

    # -- alerts (controlplane.alerts; docs/alerts.md) --------------------------------------------------------
    portal_url: str = Field("", description="The portal's address as people reach it, for the links in alerts; empty: "
                                            "FLOWYARD_PUBLIC_URL.")
    smtp_host: str = Field("", description="The SMTP server alerts' e-mails go through; empty: e-mail channels fail "
                                           "with a clear error.")
    smtp_port: int = Field(25, ge=1, le=65535, description="The SMTP server's port (587 with STARTTLS, 465 with TLS).")
    smtp_username: str = Field("", description="SMTP login; empty: none.")
    smtp_password: str = Field("", description="SMTP password; never logged.")
    smtp_security: Literal["none", "starttls", "tls"] = Field("none", description="How the SMTP connection is secured.")
    email_from: str = Field("flowyard@localhost", description="The From address of alert e-mails.")
    alert_max_attempts: int = Field(5, ge=1, le=20, description="Attempts per alert delivery before it is failed.")
    alert_retry_seconds: float = Field(30, gt=0, description="The first retry's delay; each next one doubles (at most "
                                                             "an hour).")
    alert_timeout_seconds: float = Field(10, gt=0, le=60, description="How long one delivery attempt may take.")
    alert_queue: str = Field(
        "", description="The Celery queue alert deliveries go to; empty: the task queue. A queue of its own (with its "
                        "own worker, `celery worker -Q <queue>`) keeps a slow channel from delaying launches.",
    )

    @field_validator("allowed_hosts", "csrf_trusted_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database_scheme(cls, value: str) -> str:
        if value and urlparse(value).scheme not in {"postgres", "postgresql", "sqlite"}:
            raise ValueError("must start with postgres://, postgresql:// or sqlite:///")
        return value

    @property
    def sso_enabled(self) -> bool:
        """True when an OpenID Connect provider is configured."""
        return bool(self.oidc_issuer)

    @property
    def oidc_metadata_url(self) -> str:
        """Where the provider's metadata is read (the discovery URL, else the issuer's well-known address)."""
        return self.oidc_discovery_url or self.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"

    def _check_sso(self) -> None:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ConfigError(f"{PREFIX}OIDC_CLIENT_ID: FLOWYARD_OIDC_ISSUER is set, so the client id the provider "
                              "gave Flowyard is needed too")
        if not self.oidc_issuer:
            for name in ("client_id", "cli_client_id", "discovery_url"):
                if getattr(self, f"oidc_{name}"):
                    raise ConfigError(f"{PREFIX}OIDC_ISSUER: {PREFIX}OIDC_{name.upper()} is set but the issuer is not; "
                                      "set the provider's issuer URL")
        if self.sso_only and not self.oidc_issuer:
            raise ConfigError(f"{PREFIX}SSO_ONLY: turns password login off, so {PREFIX}OIDC_ISSUER and "
                              f"{PREFIX}OIDC_CLIENT_ID are needed or nobody but superusers could sign in")
        if self.sso_only and self.password_login_allowed:
            raise ConfigError(f"{PREFIX}PASSWORD_LOGIN_ALLOWED: contradicts {PREFIX}SSO_ONLY, which turns password "
                              "login off for everyone but superusers; set one of them")
        if "openid" not in self.oidc_scopes.split():
            raise ConfigError(f"{PREFIX}OIDC_SCOPES: must include openid (got {self.oidc_scopes!r})")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *, mode: Mode | None = None) -> "FlowyardConfig":
        """Read `FLOWYARD_<FIELD>` variables; raise ConfigError naming the first bad variable.

        `mode`, when given, replaces FLOWYARD_MODE: a settings profile that is one mode says so here.
        """
        environ = os.environ if environ is None else environ
        raw = {name: environ[PREFIX + name.upper()] for name in cls.model_fields if PREFIX + name.upper() in environ}
        if mode is not None:
            raw["mode"] = mode
        try:
            config = cls(**raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            variable = PREFIX + str(first["loc"][0]).upper()
            raise ConfigError(f"{variable}: {first['msg']} (got {raw.get(str(first['loc'][0]))!r})") from None
        config._check_sso()
        if config.mode == "production":
            config._check_production()
        return config

    def _check_production(self) -> None:
        if self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 50:
            raise ConfigError(
                f"{PREFIX}SECRET_KEY: production needs a random value of at least 50 characters, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'"
            )
        if self.debug:
            raise ConfigError(f"{PREFIX}DEBUG: must be false in production")
        if not self.database_url.startswith(("postgres://", "postgresql://")):
            raise ConfigError(f"{PREFIX}DATABASE_URL: production needs PostgreSQL (postgres://user:pass@host:5432/db)")
        if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
            raise ConfigError(f"{PREFIX}OIDC_ISSUER: production needs an https:// issuer (got {self.oidc_issuer!r})")

    def django_databases(self, base_dir: str) -> dict[str, dict[str, object]]:
        """The Django DATABASES setting for this configuration."""
        if not self.database_url:
            return {"default": _sqlite(os.path.join(base_dir, "flowyard.sqlite3"))}
        url = urlparse(self.database_url)
        if url.scheme == "sqlite":
            return {"default": _sqlite(unquote(url.path) or ":memory:")}
        options: dict[str, object] = {key: values[-1] for key, values in parse_qs(url.query).items()}
        # Parameters bound on the server, and a statement that a connection runs a second time prepared (psycopg's
        # prepare_threshold; Django's default, None, never prepares): PostgreSQL then neither parses nor analyses it
        # again. Measured in-process, PostgreSQL's CPU for a run's trigger fell from 2.5 to 0.9 ms, for an event
        # batch from 6.2 to 2.3 ms. The threshold is 1, not psycopg's 5: every web and worker thread has a
        # connection of its own, which runs a given statement a few times before CONN_MAX_AGE renews it.
        # `?server_side_binding=false` turns both off, e.g. behind a transaction-mode pooler.
        binding = str(options.pop("server_side_binding", "true")).strip().lower()
        if binding not in ("true", "false"):
            raise ConfigError(f"{PREFIX}DATABASE_URL: server_side_binding must be true or false (got {binding!r})")
        options["server_side_binding"] = binding == "true"
        if binding == "true":
            threshold = str(options.pop("prepare_threshold", PREPARE_THRESHOLD))
            if not threshold.isdigit():
                raise ConfigError(f"{PREFIX}DATABASE_URL: prepare_threshold must be a whole number of executions "
                                  f"before a statement is prepared, e.g. 1 (got {threshold!r})")
            options["prepare_threshold"] = int(threshold)
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": unquote(url.path.lstrip("/")),
                "USER": unquote(url.username or ""),
                "PASSWORD": unquote(url.password or ""),
                "HOST": url.hostname or "",
                "PORT": str(url.port or ""),
                "OPTIONS": options,
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        }


def _sqlite(path: str) -> dict[str, object]:
    """SQLite for several processes (server, worker): transactions take the write lock when they begin
    (so two writers queue instead of deadlocking on a lock upgrade), and WAL lets readers run beside a writer."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
    }
