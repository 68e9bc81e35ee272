"""The environment's task cache inside a run: records kept by the control plane, results in a shared store.

The control plane's record of a key (GET/POST /api/v1/runner/runs/<run>/cache/) says which result is valid and
until when, so a second run of a flow with the same inputs finds the first run's results. Where the results are
depends on the run's target:

- `DirectoryStore` (FLOWYARD_RESULT_DIR): a directory the runner writes; on Docker hosts the environment's volume.
- `SignedUrlStore` (FLOWYARD_RESULT_STORE=signed-urls): an object store (S3 on ECS) read and written through
  short-lived URLs the control plane signs for this run's environment; the runner holds no store credentials.

The first lookup of a task loads the index of that task's records in one request (`cache/index/?task=`), so a
flow calling a cached task a thousand times does not ask the control plane a thousand times whether a key exists;
a key the index lacks is asked for alone only when the index was cut short. Outside a control plane run
(`flowyard run --local`, tests) the cache stays in local files (flowyard.cache).
"""

from __future__ import annotations

import datetime
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyard.cache import write_atomically
from flowyard.reporting.client import Unreachable, call_api
from flowyard_spec.api import (
    MAX_CACHE_RECORDS_PER_BATCH,
    MAX_TASK_NAME_LENGTH,
    RESULT_STORE_VARIABLE,
    SIGNED_URLS,
    result_location,
)

TIMEOUT_SECONDS = 10.0
RECORD_DELAY_SECONDS = 1.0  # a stored result is recorded at the control plane at most this much later, in a batch
RECORD_BATCH = 500  # or as soon as this many are waiting
TRANSFER_TIMEOUT_SECONDS = 60.0  # one result to or from the object store


@dataclass
class _TaskIndex:
    """The records of one task the control plane listed: key → (location, expiry in epoch seconds or None)."""

    records: dict[str, tuple[str, float | None]]
    complete: bool


def _epoch(text: Any) -> float | None:
    """An ISO 8601 time from the control plane as epoch seconds; None when absent or unreadable (never expires)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@dataclass(eq=False)
class _ControlPlaneIndex:
    """What both stores share: the control plane's cache records of the run's environment, with the run's token.

    Records of stored results are sent in batches (`cache/batch/`), at most RECORD_DELAY_SECONDS after the result
    was stored, and all of them by `flush()`, which the runner calls before it reports the run's end: a task does
    not wait for a request per result, and a run that starts after this one ended finds every result.
    """

    api: str
    run_id: str
    token: str
    _indexes: dict[str, _TaskIndex | None] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _pending: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _timer: threading.Timer | None = field(default=None, init=False, repr=False)
    _flushing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def _url(self) -> str:
        return f"{self.api}/api/v1/runner/runs/{urllib.parse.quote(self.run_id)}/cache/"

    def _index(self, task_name: str) -> _TaskIndex | None:
        """The index of `task_name`'s records, loaded on first use (one request); None when it could not be read."""
        with self._lock:  # the first caller loads it; a map's other threads wait for that one request
            if task_name not in self._indexes:
                self._indexes[task_name] = self._load_index(task_name)
            return self._indexes[task_name]

    def _load_index(self, task_name: str) -> _TaskIndex | None:
        try:
            status, reply = call_api("GET", f"{self._url}index/?{urllib.parse.urlencode({'task': task_name})}",
                                     self.token, None, TIMEOUT_SECONDS)
        except Unreachable:
            return None
        if status != 200 or not reply or not isinstance(reply.get("records"), list):
            return None
        records = {entry["key"]: (entry["location"], _epoch(entry.get("expires_at")))
                   for entry in reply["records"]
                   if isinstance(entry, dict) and isinstance(entry.get("key"), str)
                   and isinstance(entry.get("location"), str)}
        return _TaskIndex(records, reply.get("complete") is True)

    def _known(self, key: str, task_name: str) -> str | None | bool:
        """What the task's index says of `key`: its location (a valid record), False (surely no record: the index
        is complete), or None (not known: ask the control plane for the key alone)."""
        index = self._index(task_name[:MAX_TASK_NAME_LENGTH]) if task_name else None  # as recorded
        if index is None:
            return None
        location, expires_at = index.records.get(key, (None, None))
        if location is not None and (expires_at is None or time.time() < expires_at):
            return location
        return False if location is None and index.complete else None

    def _lookup(self, key: str) -> dict[str, Any] | None:
        """The control plane's record of `key` alone (with `url` on object stores), or None for a miss."""
        try:
            status, reply = call_api("GET", f"{self._url}?{urllib.parse.urlencode({'key': key})}", self.token, None,
                                     TIMEOUT_SECONDS)
        except Unreachable:
            return None  # a miss: the task runs
        return reply if status == 200 and reply else None

    def _record(self, key: str, location: str, *, task_name: str, size_bytes: int, expires_at: float | None) -> None:
        """Queue the record that the result of `key` is stored at `location` (sent within RECORD_DELAY_SECONDS)."""
        body: dict[str, Any] = {
            "key": key, "location": location, "task_name": task_name[:MAX_TASK_NAME_LENGTH], "size_bytes": size_bytes,
            "expires_at": None if expires_at is None else
            datetime.datetime.fromtimestamp(expires_at, datetime.UTC).isoformat(),
        }
        with self._lock:
            index = self._indexes.get(body["task_name"])
            if index is not None:  # later calls of the task in this run find it without asking
                index.records[key] = (location, expires_at)
            self._pending.append(body)
            full = len(self._pending) >= RECORD_BATCH
            if not full and self._timer is None:
                self._timer = threading.Timer(RECORD_DELAY_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> int:
        """Send every queued record; the number the control plane did not take (they are kept for the next try)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            for start in range(0, len(batch), MAX_CACHE_RECORDS_PER_BATCH):
                part = batch[start:start + MAX_CACHE_RECORDS_PER_BATCH]
                try:
                    status, _ = call_api("POST", f"{self._url}batch/", self.token, {"records": part},
                                         TIMEOUT_SECONDS)
                except Unreachable:
                    status = 0
                if status != 200:
                    with self._lock:  # kept: the runner's final flush tries again
                        unsent = batch[start:]
                        self._pending[:0] = unsent
                        return len(unsent)
            return 0


@dataclass(eq=False)
class DirectoryStore(_ControlPlaneIndex):
    """Results as files in `directory` (the environment's volume on Docker hosts), indexed by the control plane."""

    directory: Path = field(kw_only=True)

    def _inside(self, location: Any) -> Path | None:
        """`location` inside the directory, or None when it is not a string or points out of it."""
        if not isinstance(location, str):
            return None
        path = (self.directory / location).resolve()
        return path if path.is_relative_to(self.directory.resolve()) else None

    def load(self, key: str, task_name: str = "") -> bytes | None:
        """The stored result of `key` when the control plane holds a valid record of it, else None."""
        known = self._known(key, task_name)
        if known is False:
            return None
        path = self._inside(known if known is not None else (self._lookup(key) or {}).get("location"))
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def save(self, key: str, payload: bytes, *, task_name: str, expires_at: float | None) -> bool:
        """Write the result of `key` into the directory and queue its record; False when it could not be written."""
        location = result_location(key)
        try:
            write_atomically(self.directory / location, payload)
        except OSError:
            return False
        self._record(key, location, task_name=task_name, size_bytes=len(payload), expires_at=expires_at)
        return True


@dataclass(eq=False)
class SignedUrlStore(_ControlPlaneIndex):
    """Results in an object store (S3 on ECS), moved through URLs the control plane signs for this run."""

    def load(self, key: str, task_name: str = "") -> bytes | None:
        """The stored result of `key` when the control plane holds a valid record of it, else None."""
        if self._known(key, task_name) is False:
            return None
        url = (self._lookup(key) or {}).get("url")  # a known key still needs its signed URL
        if not isinstance(url, str):
            return None
        try:
            with urllib.request.urlopen(url, timeout=TRANSFER_TIMEOUT_SECONDS) as answer:  # noqa: S310 - signed
                return answer.read()
        except (urllib.error.URLError, OSError, ValueError):
            return None  # gone from the store, or unreachable: a miss

    def save(self, key: str, payload: bytes, *, task_name: str, expires_at: float | None) -> bool:
        """Upload the result of `key` through a signed URL, then queue its record; False when the upload failed."""
        try:
            status, upload = call_api("POST", f"{self._url}uploads/", self.token, {"key": key}, TIMEOUT_SECONDS)
        except Unreachable:
            return False
        if status != 200 or not upload or not isinstance(upload.get("url"), str):
            return False
        request = urllib.request.Request(upload["url"], data=payload, method="PUT",
                                         headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=TRANSFER_TIMEOUT_SECONDS) as answer:  # noqa: S310 - signed
                answer.read()
        except (urllib.error.URLError, OSError, ValueError):
            return False
        self._record(key, upload["location"], task_name=task_name, size_bytes=len(payload), expires_at=expires_at)
        return True


def store_from_env(environ: Mapping[str, str] | None = None) -> DirectoryStore | SignedUrlStore | None:
    """The result store of this run, or None outside a control plane run or when its target gives it none."""
    environ = os.environ if environ is None else environ
    api, run_id, token = (environ.get(name, "").strip() for name in
                          ("FLOWYARD_API_URL", "FLOWYARD_RUN_ID", "FLOWYARD_RUN_TOKEN"))
    if not (api and run_id and token):
        return None
    api = api.rstrip("/")
    directory = environ.get("FLOWYARD_RESULT_DIR", "").strip()
    if directory:
        return DirectoryStore(api, run_id, token, directory=Path(directory))
    if environ.get(RESULT_STORE_VARIABLE, "").strip() == SIGNED_URLS:
        return SignedUrlStore(api, run_id, token)
    return None
