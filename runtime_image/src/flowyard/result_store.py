"""The environment's task cache inside a run: records kept by the control plane, results in FLOWYARD_RESULT_DIR.

On Docker the result directory is the environment's own volume, shared by its runs; the control plane's record of
a key (GET/POST /api/v1/runner/runs/<run>/cache/) says which result is valid and until when, so a second run of a
flow with the same inputs finds the first run's results. Outside a control plane run (`flowyard run --local`,
tests) the cache stays in local files (flowyard.cache).
"""

from __future__ import annotations

import datetime
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowyard.reporting.client import Unreachable, call_api

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ControlPlaneStore:
    """Where a run's cached results go (`directory`) and whom it asks for the index (`api`, `run_id`, `token`)."""

    directory: Path
    api: str
    run_id: str
    token: str

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

    def find(self, key: str) -> Path | None:
        """The stored result file of `key` when the control plane holds a valid record of it, else None."""
        try:
            status, reply = call_api("GET", f"{self._url}?{urllib.parse.urlencode({'key': key})}", self.token, None,
                                     TIMEOUT_SECONDS)
        except Unreachable:
            return None  # a miss: the task runs
        if status != 200 or not reply or not isinstance(reply.get("location"), str):
            return None
        path = (self.directory / reply["location"]).resolve()
        return path if path.is_relative_to(self.directory.resolve()) else None

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
        return status == 200
