"""Helpers for tests that drive the `flowyard` command line while another thread watches what it prints."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

DEADLINE = 30.0


def wait_until(condition: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy; fail after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return value


class Recorder(io.TextIOBase):
    """A thread-safe stand-in for stdout/stderr that another thread can read while the CLI writes."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Keep `text`."""
        with self._lock:
            self._parts.append(text)
        return len(text)

    def text(self) -> str:
        """Everything written so far."""
        with self._lock:
            return "".join(self._parts)

    def lines(self) -> list[str]:
        """Every complete line written so far."""
        return self.text().splitlines()
