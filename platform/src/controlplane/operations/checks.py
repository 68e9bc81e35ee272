"""Readiness checks shared by /readyz and `flowyard-admin readiness`: the database, the broker, each runtime target.

Every check is a function returning a `Check`; `readiness()` runs them concurrently in threads, each bounded by
`CHECK_SECONDS` (a check that has not answered by then fails as timed out), so the whole answers in ~3 s.
Nothing is cached. Details are short and never carry credentials (`redact` strips the userinfo of any URL).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from controlplane.runtimes.models import RuntimeTarget

CHECK_SECONDS = 3.0
CONNECT_SECONDS = 2.0
DETAIL_CHARS = 200
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by `***`, cut to DETAIL_CHARS."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Check:
    """One check's outcome: whether it passed, a short detail and how long it took."""

    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Readiness:
    """Every check by name (`database`, `broker`, `runtime:<target>`); ready when all passed."""

    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        """The /readyz body."""
        return {"status": "ok" if self.ok else "failing",
                "checks": {name: asdict(check) for name, check in self.checks.items()}}


# -- the checks: each returns a detail when it passes and raises when it fails --------------------------------


def check_database() -> str:
    """`SELECT 1` on the default connection (this thread's own, closed afterwards)."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()
    return connection.vendor


def check_broker() -> str:
    """The Celery broker answers: Redis a PING, the embedded filesystem broker its folders exist, others connect."""
    url = settings.CELERY_BROKER_URL
    scheme = url.partition("://")[0]
    if scheme == "filesystem":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders = [options.get(key) for key in ("data_folder_in", "data_folder_out", "control_folder")]
        missing = [folder for folder in folders if folder and not Path(folder).is_dir()]
        if missing:
            raise RuntimeError(f"broker folder missing: {', '.join(missing)}")
        return "filesystem broker"
    if scheme in ("redis", "rediss"):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CONNECT_SECONDS)
        try:
            client.ping()
        finally:
            client.close()
        return scheme
    from kombu import Connection

    with Connection(url, connect_timeout=CONNECT_SECONDS,
                    transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=CONNECT_SECONDS)
    return scheme


def check_runtime(kind: str, target_settings: dict[str, Any]) -> str:
    """A runtime target answers a cheap call: every Docker host a ping, ECS `describe_clusters`; local: always."""
    if kind == "docker":
        return _check_docker(target_settings)
    if kind == "ecs":
        return _check_ecs(target_settings)
    return "local processes"


def _check_docker(target_settings: dict[str, Any]) -> str:
    from controlplane.runtimes.backends.docker.config import DockerSettings

    hosts = DockerSettings.parse(target_settings).hosts
    failing = []
    for host in hosts:
        try:
            client = host.connect(CHECK_SECONDS)  # the client the backend builds (asks the engine its version)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - any failure means the host does not answer
            failing.append(f"{host.label}: {type(exc).__name__}")
    if failing:
        raise RuntimeError(f"Docker host not answering: {'; '.join(failing)}")
    return f"{len(hosts)} Docker host(s) answer"


def _check_ecs(target_settings: dict[str, Any]) -> str:
    import boto3
    from botocore.config import Config

    from controlplane.runtimes.backends.ecs.settings import EcsSettings

    config = EcsSettings.parse(target_settings)
    client = boto3.session.Session().client(
        "ecs", region_name=config.region, endpoint_url=config.endpoint_url,
        config=Config(connect_timeout=CONNECT_SECONDS, read_timeout=CONNECT_SECONDS,
                      retries={"mode": "standard", "max_attempts": 1}),
    )
    clusters = client.describe_clusters(clusters=[config.cluster]).get("clusters", [])
    if not clusters or clusters[0].get("status") != "ACTIVE":
        raise RuntimeError(f"ECS cluster {config.cluster} is not active")
    return f"ECS cluster {config.cluster} active"


# -- running them ---------------------------------------------------------------------------------------------


def _timed(function: Callable[[], str]) -> Check:
    started = time.monotonic()
    try:
        detail, ok = function(), True
    except Exception as exc:  # noqa: BLE001 - a failing check is reported, never raised
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(ok=ok, detail=redact(detail), seconds=round(time.monotonic() - started, 4))


def planned_checks() -> dict[str, Callable[[], str]]:
    """The checks to run by name; the runtime targets are listed here, in the caller's thread and transaction."""
    planned: dict[str, Callable[[], str]] = {"database": check_database, "broker": check_broker}
    try:
        targets = list(RuntimeTarget.objects.values_list("name", "kind", "settings"))
    except Exception:  # noqa: BLE001 - the database check reports why
        targets = []
    for name, kind, target_settings in targets:
        planned[f"runtime:{name}"] = lambda kind=kind, target_settings=target_settings: check_runtime(
            kind, target_settings or {})
    return planned


def readiness(timeout: float = CHECK_SECONDS) -> Readiness:
    """Run every check concurrently; one that has not answered within `timeout` seconds fails as timed out."""
    planned = planned_checks()
    executor = ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="readiness")
    try:
        futures = {name: executor.submit(_timed, function) for name, function in planned.items()}
        deadline = time.monotonic() + timeout
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                results[name] = Check(ok=False, detail=f"no answer within {timeout:g} s", seconds=timeout)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)  # a hung check's thread is left to finish on its own
    return Readiness(checks=results)
