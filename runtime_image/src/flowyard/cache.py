"""Task result cache keyed on the task's source code and its inputs: in a control plane run, the environment's
result store shared by its runs (flowyard.result_store); elsewhere, files under FLOWYARD_CACHE_DIR."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import pickle
import tempfile
import time
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, Protocol

_MISS: Any = object()
MISS = _MISS  # returned by `read` when there is no usable entry


def cache_dir() -> Path:
    """The cache directory: FLOWYARD_CACHE_DIR, else ~/.cache/flowyard."""
    configured = os.environ.get("FLOWYARD_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "flowyard"


def source_fingerprint(fn: Any) -> str:
    """A hash of the function's source code (its bytecode when the source is not available)."""
    fn = inspect.unwrap(fn)
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = repr((code.co_code, code.co_consts)) if code is not None else repr(fn)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """Turn values json cannot encode into stable equivalents, or fail with TypeError."""
    if isinstance(value, (datetime, date)):
        return {"__date__": value.isoformat()}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((json.dumps(item, sort_keys=True, default=_canonical) for item in value))}
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, PurePath):
        return {"__path__": str(value)}
    if isinstance(value, Enum):
        return {"__enum__": f"{type(value).__qualname__}.{value.name}"}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__qualname__, "fields": dataclasses.asdict(value)}
    if isinstance(value, tuple):
        return list(value)
    return {"__pickle__": hashlib.sha256(pickle.dumps(value, protocol=4)).hexdigest()}


def inputs_fingerprint(inputs: dict[str, Any]) -> str | None:
    """A stable hash of a task's bound inputs, or None when they cannot be hashed reliably."""
    try:
        text = json.dumps(inputs, sort_keys=True, default=_canonical, separators=(",", ":"))
    except (TypeError, ValueError, pickle.PicklingError, AttributeError, RecursionError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def make_key(task_name: str, source: str, inputs: str) -> str:
    """The cache key of one task call."""
    return hashlib.sha256(f"{task_name}\0{source}\0{inputs}".encode()).hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.pickle"


class ResultStore(Protocol):
    """Where a run's cached results are shared with its environment's other runs (flowyard.result_store)."""

    def load(self, key: str, task_name: str = "") -> bytes | None:
        """The stored result of `key` (a call of `task_name`) when it is valid, else None."""

    def save(self, key: str, payload: bytes, *, task_name: str, expires_at: float | None) -> bool:
        """Store the result of `key` for later runs; False when that failed."""

    def flush(self) -> int:
        """Make every stored result findable by later runs now; the number that could not be."""


_shared_store: ResultStore | None = None


def use_store(store: ResultStore | None) -> None:
    """Share cached results through `store` from now on (the runner sets its run's store); None: local files."""
    global _shared_store
    _shared_store = store


def flush_store() -> int:
    """Make every result stored so far findable by later runs (the runner calls it before reporting the run's end);
    the number that could not be (0 outside a control plane run)."""
    store = _shared_store
    return 0 if store is None else store.flush()


def write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so that readers see the old file or the whole new one (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name[:8]}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _load_local(key: str) -> bytes | None:
    try:
        return _path(key).read_bytes()
    except OSError:
        return None


def read(key: str, task_name: str = "") -> Any:
    """The cached value for `key` (a call of `task_name`), or MISS when absent, expired or unreadable."""
    store = _shared_store
    payload = _load_local(key) if store is None else store.load(key, task_name)
    if payload is None:
        return _MISS
    try:
        entry = pickle.loads(payload)
    except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError, IndexError):
        return _MISS
    if not isinstance(entry, dict) or "value" not in entry:
        return _MISS
    expires_at = entry.get("expires_at")
    if expires_at is not None and time.time() >= expires_at:
        return _MISS
    return entry["value"]


def expires_at(key: str) -> float | None:
    """When the local entry for `key` expires (epoch seconds), or None when it never does or is absent."""
    try:
        with open(_path(key), "rb") as handle:
            return pickle.load(handle).get("expires_at")
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
        return None


def write(key: str, value: Any, expiration: timedelta | float | None, task_name: str = "") -> bool:
    """Store `value` under `key` (in a control plane run, in the environment's result store, recorded there); False
    when it cannot be pickled or stored."""
    now = time.time()
    seconds = expiration.total_seconds() if isinstance(expiration, timedelta) else expiration
    entry = {"version": 1, "task": task_name, "created_at": now,
             "expires_at": None if seconds is None else now + seconds, "value": value}
    try:
        payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return False
    store = _shared_store
    if store is not None:
        return store.save(key, payload, task_name=task_name, expires_at=entry["expires_at"])
    try:
        write_atomically(_path(key), payload)
    except OSError:
        return False
    return True
