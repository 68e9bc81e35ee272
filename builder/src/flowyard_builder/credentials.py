"""The logins `flowyard login` keeps: one personal token per control plane, in a file only you may read.

The file is `$XDG_CONFIG_HOME/flowyard/credentials.json` (`~/.config/flowyard/credentials.json` when
XDG_CONFIG_HOME is unset), or wherever `$FLOWYARD_CREDENTIALS_FILE` says (tests point it at a temporary
folder). It holds, per control-plane URL, the token, its id (to revoke it at logout), its expiry and the
username, and which URL is the default: the last one logged in to. It is written atomically (a temporary
file in the same folder, created with mode 0600, then renamed over it), in a folder created with mode 0700;
a file others may read is still read, with a warning naming the `chmod` that fixes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

CREDENTIALS_VARIABLE = "FLOWYARD_CREDENTIALS_FILE"
FILE_NAME = "credentials.json"
FILE_MODE = 0o600
FOLDER_MODE = 0o700
FORMAT_VERSION = 1


class CredentialsError(Exception):
    """The credentials file cannot be read or written; the message names the file and what fixes it."""


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the credentials file is: $FLOWYARD_CREDENTIALS_FILE, else $XDG_CONFIG_HOME (or ~/.config)/flowyard/."""
    environ = os.environ if environ is None else environ
    override = environ.get(CREDENTIALS_VARIABLE)
    if override:
        return Path(override).expanduser()
    config_home = environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"  # the XDG spec: relative is ignored
    return base / "flowyard" / FILE_NAME


def normalize_url(url: str) -> str:
    """A control plane's URL as the file's key: scheme and host in lower case, no trailing slash."""
    parts = urllib.parse.urlsplit(url.strip())
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"),
                                    parts.query, parts.fragment))


def format_time(moment: datetime | None) -> str:
    """A moment in this machine's timezone, e.g. "2026-05-01 14:03 CEST"; "never" for None."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip() if moment else "never"


@dataclass(frozen=True)
class Login:
    """One control plane's stored login: the personal token `flowyard login` minted, and whose it is."""

    api: str
    token: str
    token_id: str
    username: str
    expires_at: datetime | None
    signed_in_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def token_prefix(self) -> str:
        """The start of the token, safe to show (e.g. "fyp_3kq9…")."""
        return self.token[:8] + "…"

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the token's expiry has passed (a token without one never expires)."""
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(timezone.utc))

    def to_json(self) -> dict[str, Any]:
        """The login as it is written in the file."""
        return {"token": self.token, "token_id": self.token_id, "username": self.username,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "signed_in_at": self.signed_in_at.isoformat()}

    @classmethod
    def from_json(cls, api: str, data: Any) -> Login:
        """A login read from the file; ValueError says what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError(f"the login of {api} is not an object")
        for name in ("token", "token_id"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"the login of {api} has no {name}")
        return cls(api=api, token=data["token"], token_id=data["token_id"], username=str(data.get("username") or ""),
                   expires_at=_parse_time(data.get("expires_at"), api, "expires_at"),
                   signed_in_at=_parse_time(data.get("signed_in_at"), api, "signed_in_at")
                   or datetime.fromtimestamp(0, timezone.utc))


def _parse_time(value: Any, api: str, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"the login of {api} has a {name} that is not a date-time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Credentials:
    """Everything in the credentials file: the logins by URL and the default URL."""

    path: Path
    logins: dict[str, Login] = field(default_factory=dict)
    default: str | None = None

    def get(self, api: str | None) -> Login | None:
        """The login of `api` (any spelling of its URL), or of the default URL when `api` is None."""
        key = normalize_url(api) if api else self.default
        return self.logins.get(key) if key else None

    def add(self, login: Login) -> None:
        """Keep `login` (replacing that URL's previous one) and make its URL the default."""
        key = normalize_url(login.api)
        self.logins[key] = dataclasses.replace(login, api=key)
        self.default = key

    def remove(self, api: str) -> Login | None:
        """Forget the login of `api`; when it was the default, the most recent other login becomes the default."""
        key = normalize_url(api)
        login = self.logins.pop(key, None)
        if self.default == key or self.default not in self.logins:
            latest = max(self.logins.values(), key=lambda item: item.signed_in_at, default=None)
            self.default = latest.api if latest else None
        return login

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {"version": FORMAT_VERSION, "default": self.default,
                "logins": {api: login.to_json() for api, login in sorted(self.logins.items())}}

    def save(self) -> None:
        """Write the file atomically with mode 0600 (its folder created 0700 when missing); CredentialsError if not."""
        write_private_file(self.path, json.dumps(self.to_json(), indent=2) + "\n")


def load_credentials(path: Path | None = None, warnings: TextIO | None = None) -> Credentials:
    """The credentials file's logins (none when it does not exist); a file others may read is read with a warning.

    CredentialsError names the file and the fix when it cannot be read or is not a credentials file.
    """
    path = path or credentials_path()
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            raw = handle.read()
    except FileNotFoundError:
        return Credentials(path)
    except OSError as exc:
        raise CredentialsError(f"cannot read the credentials file {path}: {exc.strerror or exc}; fix its permissions, "
                               "or set $FLOWYARD_CREDENTIALS_FILE to another file") from None
    if os.name == "posix" and mode & 0o077:
        print(f"flowyard: warning: the credentials file {path} may be read by others (mode {mode & 0o777:04o}); "
              f"run `chmod 600 {path}`", file=warnings or sys.stderr)
    return parse_credentials(path, raw)


def parse_credentials(path: Path, raw: bytes) -> Credentials:
    """The credentials in a file's bytes; CredentialsError naming the file and the fix when they are not."""
    fix = "fix it, or delete it and run `flowyard login` again"
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise CredentialsError(f"the credentials file {path} is not valid JSON ({exc}); {fix}") from None
    try:
        if not isinstance(data, dict) or not isinstance(data.get("logins", {}), dict):
            raise ValueError('it should be an object with "logins" by control-plane URL')
        logins = {normalize_url(api): Login.from_json(normalize_url(api), entry)
                  for api, entry in data.get("logins", {}).items()}
        default = data.get("default")
        if default is not None and not isinstance(default, str):
            raise ValueError('"default" should be a URL')
    except ValueError as exc:
        raise CredentialsError(f"the credentials file {path} is not a flowyard credentials file: {exc}; {fix}") from None
    default = normalize_url(default) if default else None
    return Credentials(path, logins, default if default in logins else None)


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: a 0600 temporary file beside it, renamed over it (never world-readable)."""
    target = Path(os.path.realpath(path))  # a symlinked file (dotfiles) is replaced where it really is
    folder = target.parent
    temporary = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        _make_private_folder(folder)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with open(fd, "w", encoding="utf-8") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), FILE_MODE)  # exactly 0600, whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CredentialsError(f"cannot write the credentials file {path}: {exc.strerror or exc}; check that its "
                               "folder is yours and writable, or set $FLOWYARD_CREDENTIALS_FILE to another file") from None


def _make_private_folder(folder: Path) -> None:
    # Only a folder made here is set to 0700: an existing one (e.g. the folder $FLOWYARD_CREDENTIALS_FILE names)
    # is left as its owner set it.
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        return
    os.chmod(folder, FOLDER_MODE)  # mkdir's mode is filtered by the umask
