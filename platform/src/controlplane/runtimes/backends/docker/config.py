"""A Docker runtime target's settings, validated once, and the connection to each of its hosts.

Settings (all optional):

- `hosts`: `[{"base_url": "unix:///var/run/docker.sock" | "tcp://host:2376",
  "tls": {"ca_cert", "client_cert", "client_key", "verify"}, "max_memory": "8g", "max_cpus": 4}]`; none: the
  engine `docker.from_env()` finds. `max_memory` and `max_cpus` are what Flowyard's containers may reserve on
  the host together (default: the engine's memory as `docker info` reports it, and no CPU bound);
- `network_mode` (default "host"), `user` (default "10001:10001", never root), `tmpfs_size` (default "256m"),
  `stop_grace_seconds` (default 10: the container's own stop timeout, used by `docker stop` and a daemon
  shutdown, and the grace when `terminate` is given none), `api_timeout_seconds` (default 30).

Unknown keys are an error naming the key; keys that would mount anything into a workflow container
(`volumes`, `mounts`, `binds`, `devices`, ...) are refused with that reason: the Docker socket can never be
mounted because nothing can be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker

SETTING_KEYS = frozenset({"hosts", "network_mode", "user", "tmpfs_size", "stop_grace_seconds", "api_timeout_seconds"})
HOST_KEYS = frozenset({"base_url", "tls", "max_memory", "max_cpus"})
UNITS_MIB = {"k": 1 / 1024, "m": 1, "g": 1024}
TLS_KEYS = frozenset({"ca_cert", "client_cert", "client_key", "verify"})
# Anything that would put a host path, a device or the host's privileges into a workflow container.
MOUNTING_KEYS = frozenset({
    "volumes", "volume", "mounts", "mount", "binds", "bind", "volumes_from", "volume_driver", "devices",
    "device_requests", "privileged", "cap_add", "tmpfs", "storage_opt",
})
USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
SIZE = re.compile(r"^[1-9][0-9]*[kmgKMG]?$")
NETWORK_MODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BASE_URL = re.compile(r"^(unix|tcp|http|https|npipe|ssh)://.+$")


class DockerSettingsError(ValueError):
    """The runtime target's settings are not valid; the message names the key."""


def _capacity(raw: Mapping[str, Any], where: str) -> dict[str, int | None]:
    """A host's `max_memory` (a size such as 8g) and `max_cpus` (a number) as MiB and CPU units (1024 a CPU)."""
    memory, cpus = raw.get("max_memory"), raw.get("max_cpus")
    limits: dict[str, int | None] = {"max_memory_mib": None, "max_cpu_units": None}
    if memory is not None:
        if not isinstance(memory, str) or not SIZE.match(memory) or memory[-1].lower() not in UNITS_MIB:
            raise DockerSettingsError(f"{where}.max_memory must be a size such as 512m or 8g")
        limits["max_memory_mib"] = int(int(memory[:-1]) * UNITS_MIB[memory[-1].lower()])
    if cpus is not None:
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
            raise DockerSettingsError(f"{where}.max_cpus must be a positive number of CPUs, e.g. 4 or 0.5")
        limits["max_cpu_units"] = int(cpus * 1024)
    return limits


@dataclass(frozen=True)
class HostSettings:
    """One Docker Engine: its address (None: from the environment, like the docker CLI) and TLS files."""

    base_url: str | None = None
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool = True
    tls: bool = False
    max_memory_mib: int | None = None
    max_cpu_units: int | None = None

    @property
    def label(self) -> str:
        """How this host is named in messages."""
        return self.base_url or "the default Docker engine"

    @classmethod
    def parse(cls, raw: Any, index: int) -> HostSettings:
        """A host from its settings entry (`hosts[index]`)."""
        where = f"hosts[{index}]"
        if not isinstance(raw, Mapping):
            raise DockerSettingsError(f"{where} must be an object with a base_url")
        _refuse_unknown(raw, HOST_KEYS, where)
        base_url = raw.get("base_url")
        if not isinstance(base_url, str) or not BASE_URL.match(base_url):
            raise DockerSettingsError(f"{where}.base_url must be a unix://, tcp:// or ssh:// address")
        limits = _capacity(raw, where)
        tls = raw.get("tls")
        if tls is None:
            return cls(base_url=base_url, **limits)
        if not isinstance(tls, Mapping):
            raise DockerSettingsError(f"{where}.tls must be an object")
        _refuse_unknown(tls, TLS_KEYS, f"{where}.tls")
        files = {key: tls.get(key) for key in ("ca_cert", "client_cert", "client_key")}
        for key, value in files.items():
            if value is not None and not isinstance(value, str):
                raise DockerSettingsError(f"{where}.tls.{key} must be a file path")
        if bool(files["client_cert"]) != bool(files["client_key"]):
            raise DockerSettingsError(f"{where}.tls needs client_cert and client_key together")
        verify = tls.get("verify", True)
        if not isinstance(verify, bool):
            raise DockerSettingsError(f"{where}.tls.verify must be true or false")
        return cls(base_url=base_url, verify=verify, tls=True, **files, **limits)

    def connect(self, timeout: float):
        """A docker SDK client for this host (asks the engine its API version: raises when it does not answer)."""
        if self.base_url is None:
            return docker.from_env(timeout=timeout)
        tls_config = None
        if self.tls:
            tls_config = docker.tls.TLSConfig(
                client_cert=(self.client_cert, self.client_key) if self.client_cert else None,
                ca_cert=self.ca_cert, verify=self.verify,
            )
        return docker.DockerClient(base_url=self.base_url, tls=tls_config, timeout=timeout, version="auto")


@dataclass(frozen=True)
class DockerSettings:
    """A Docker runtime target's settings, validated."""

    hosts: tuple[HostSettings, ...] = (HostSettings(),)
    network_mode: str = "host"
    user: str = "10001:10001"
    tmpfs_size: str = "256m"
    stop_grace_seconds: float = 10
    api_timeout_seconds: float = 30

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> DockerSettings:
        """Settings from the target's JSON; `DockerSettingsError` names the first bad key."""
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise DockerSettingsError("the docker runtime settings must be an object")
        _refuse_unknown(raw, SETTING_KEYS, "docker runtime settings")
        hosts_raw = raw.get("hosts") or []
        if not isinstance(hosts_raw, list | tuple):
            raise DockerSettingsError("hosts must be a list of {base_url, tls}")
        hosts = tuple(HostSettings.parse(entry, index) for index, entry in enumerate(hosts_raw)) or (HostSettings(),)
        if len({host.base_url for host in hosts}) != len(hosts):
            raise DockerSettingsError("hosts lists the same base_url twice")
        user = str(raw.get("user", cls.user))
        if not USER.match(user):
            raise DockerSettingsError("user must be USER or UID:GID")
        if user.partition(":")[0] in {"0", "root"}:
            raise DockerSettingsError("user must not be root: workflow containers run as a non-root user")
        tmpfs_size = str(raw.get("tmpfs_size", cls.tmpfs_size))
        if not SIZE.match(tmpfs_size):
            raise DockerSettingsError("tmpfs_size must be a size such as 256m")
        network_mode = str(raw.get("network_mode", cls.network_mode))
        if not NETWORK_MODE.match(network_mode):
            raise DockerSettingsError("network_mode must be host, bridge, none or a network's name")
        return cls(
            hosts=hosts, network_mode=network_mode, user=user, tmpfs_size=tmpfs_size,
            stop_grace_seconds=_seconds(raw, "stop_grace_seconds", cls.stop_grace_seconds, minimum=0),
            api_timeout_seconds=_seconds(raw, "api_timeout_seconds", cls.api_timeout_seconds, minimum=1),
        )


def _seconds(raw: Mapping[str, Any], key: str, default: float, *, minimum: float) -> float:
    """A number of seconds from the settings, at least `minimum`."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise DockerSettingsError(f"{key} must be a number of seconds, at least {minimum}")
    return float(value)


def _refuse_unknown(raw: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    """Raise for the first key of `raw` that is not in `known` (saying so when it would mount something)."""
    for key in raw:
        if str(key).lower() in MOUNTING_KEYS:
            raise DockerSettingsError(
                f"{where}: {key!r} is refused: nothing is ever mounted into a workflow container "
                "(in particular never the Docker socket)"
            )
        if key not in known:
            raise DockerSettingsError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
