"""The environment's task cache inside a run: records kept by the control plane, results in FLOWYARD_RESULT_DIR.

On Docker the result directory is the environment's own volume, shared by its runs; the control plane's record of
a key (GET/POST /api/v1/runner/runs/<run>/cache/) says which result is valid and until when, so a second run of a
flow with the same inputs finds the first run's results. The first lookup of a task loads the index of that task's
records in one request (`cache/index/?task=`), so a flow calling a cached task a thousand times asks the control
plane once, not a thousand times; a key the index lacks is asked for alone only when the index was cut short.
Outside a control plane run (`flowyard run --local`,
tests) the cache stays in local files (flowyard.cache).
"""

from __future__ import annotations

import datetime
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyard.reporting.client import Unreachable, call_api

TIMEOUT_SECONDS = 10.0


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


@dataclass(frozen=True)
class ControlPlaneStore:
    """Where a run's cached results go (`directory`) and whom it asks for the index (`api`, `run_id`, `token`)."""

    directory: Path
    api: str
    run_id: str
    token: str
    _indexes: dict[str, _TaskIndex | None] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ControlPlaneStore | None":
        """The store of this run, or None when the run has no result directory or no control plane."""
        environ = os.environ if environ is None else environ
        values = [environ.get(name, "").strip() for name in
                  ("FLOWYARD_RESULT_DIR", "FLOWYARD_API_URL", "FLOWYARD_RUN_ID", "FLOWYARD_RUN_TOKEN")]
        if not all(values):
            return None
        directory, api, run_id, token = values
        return cls(Path(directory), api.rstrip("/"), run_id, token)

    @property
    def _url(self) -> str:
        return f"{self.api}/api/v1/runner/runs/{urllib.parse.quote(self.run_id)}/cache/"

    def location(self, key: str) -> str:
        """Where the result of `key` is written, relative to the directory (what the control plane records)."""
        return f"{key[:2]}/{key}.pickle"

    def path(self, key: str) -> Path:
        """Where the result of `key` is written."""
        return self.directory / self.location(key)

    def _inside(self, location: Any) -> Path | None:
        """`location` inside the directory, or None when it is not a string or points out of it."""
        if not isinstance(location, str):
            return None
        path = (self.directory / location).resolve()
        return path if path.is_relative_to(self.directory.resolve()) else None

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

    def find(self, key: str, task_name: str = "") -> Path | None:
        """The stored result file of `key` when the control plane holds a valid record of it, else None."""
        index = self._index(task_name[:200]) if task_name else None  # names are recorded cut to 200
        if index is not None:
            location, expires_at = index.records.get(key, (None, None))
            if location is not None and (expires_at is None or time.time() < expires_at):
                return self._inside(location)
            if location is None and index.complete:
                return None  # the index holds every record of the task: a miss, without asking
        try:
            status, reply = call_api("GET", f"{self._url}?{urllib.parse.urlencode({'key': key})}", self.token, None,
                                     TIMEOUT_SECONDS)
        except Unreachable:
            return None  # a miss: the task runs
        if status != 200 or not reply:
            return None
        return self._inside(reply.get("location"))

    def record(self, key: str, *, task_name: str, size_bytes: int, expires_at: float | None) -> bool:
        """Tell the control plane the result of `key` is stored; False when it did not take it."""
        body: dict[str, Any] = {
            "key": key, "location": self.location(key), "task_name": task_name[:200], "size_bytes": size_bytes,
            "expires_at": None if expires_at is None else
            datetime.datetime.fromtimestamp(expires_at, datetime.UTC).isoformat(),
        }
        try:
            status, _ = call_api("POST", self._url, self.token, body, TIMEOUT_SECONDS)
        except Unreachable:
            return False
        if status != 200:
            return False
        with self._lock:
            index = self._indexes.get(task_name[:200])
            if index is not None:  # later calls of the task in this run find it without asking
                index.records[key] = (body["location"], expires_at)
        return True
