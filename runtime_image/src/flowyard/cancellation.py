"""A flag saying a flow run is being cancelled, safe to raise from a signal handler."""

from __future__ import annotations

import threading


class Cancellation:
    """Whether a run is being cancelled; `mark` is signal-safe, `request` also wakes waiting threads."""

    def __init__(self) -> None:
        self.requested = False
        self.reason: str | None = None
        self.shielded = False  # set once the flow's code has ended: a signal then no longer raises
        self._event = threading.Event()

    def mark(self, reason: str) -> None:
        """Set the flag without taking any lock (for signal handlers); call `request` later to wake waiters."""
        if not self.requested:
            self.reason = reason
        self.requested = True

    def request(self, reason: str = "cancelled") -> None:
        """Set the flag and wake every thread waiting in `wait`."""
        self.mark(reason)
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to `timeout` seconds or until cancellation is requested; True when it was."""
        if self.requested:
            return True
        return self._event.wait(timeout) or self.requested
