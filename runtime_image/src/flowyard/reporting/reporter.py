"""Reporter: a background thread that sends queued runner events in batches, surviving API outages.

Callers only append to a deque (no lock, no I/O). The thread numbers log lines (seq 1, 2, 3, … in the
order it sends them), posts batches every `flush_interval` seconds or as soon as `max_batch` events wait,
adds a heartbeat when nothing was sent for `heartbeat_seconds`, and retries a failed batch unchanged with capped exponential
backoff, so the server's seq check makes a retry harmless. The terminal run event is the last one sent.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from flowyard.events import now_iso
from flowyard.reporting.client import Unreachable, post_events
from flowyard_spec.api import MAX_EVENTS_PER_BATCH, RUN_ENDED_CODE, RUNNER_EVENTS_PATH
from flowyard_spec.states import RunState

_SENT, _RETRY, _STOP, _SPLIT = "sent", "retry", "stop", "split"
MAX_BATCH_BYTES = 512 * 1024  # roughly: proxies in front of the API often refuse bodies over 1 MiB
_EVENT_OVERHEAD = 200
_RETRY_STATUSES = frozenset({408, 425, 429})
_SPLIT_STATUSES = frozenset({400, 413, 422})


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


class Reporter:
    """Sends runner events to `POST {api}{RUNNER_EVENTS_PATH}` in batches from a daemon thread."""

    def __init__(
        self,
        api_url: str,
        run_id: str,
        token: str,
        *,
        heartbeat_seconds: float = 10.0,
        flush_interval: float = 0.25,
        max_batch: int = MAX_EVENTS_PER_BATCH,
        request_timeout: float = 10.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 5.0,
        on_cancel_requested: Callable[[], None] | None = None,
    ) -> None:
        path = RUNNER_EVENTS_PATH.format(run_id=urllib.parse.quote(str(run_id), safe=""))
        self.url = api_url.rstrip("/") + path
        self.heartbeat_seconds = heartbeat_seconds
        self.flush_interval = flush_interval
        self.max_batch = max(1, min(max_batch, MAX_EVENTS_PER_BATCH))
        self.request_timeout = request_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.on_cancel_requested = on_cancel_requested
        self._token = token
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._outbox: collections.deque[list[dict[str, Any]]] = collections.deque()
        self._wake = threading.Event()
        self._pause = threading.Event()  # never set: an interruptible sleep for backoff
        self._thread = threading.Thread(target=self._run, name="flowyard-reporter", daemon=True)
        self._final: dict[str, Any] | None = None
        self._final_taken = False
        self._final_sent = False
        self._closing = False
        self._deadline = float("inf")
        self._cancel_signalled = False
        self._problem = ""
        self._replaced: set[int] = set()
        self._next_seq = 1
        self._last_contact = time.monotonic()
        self.stopped = False
        self.stop_reason: str | None = None
        self.batches_sent = 0
        self.events_sent = 0
        self.failed_posts = 0
        self.last_log_seq_sent = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> "Reporter | None":
        """A reporter configured from FLOWYARD_API_URL/RUN_ID/RUN_TOKEN, or None when any is missing."""
        environ = os.environ if environ is None else environ
        api, run_id, token = (environ.get(name, "").strip() for name in
                              ("FLOWYARD_API_URL", "FLOWYARD_RUN_ID", "FLOWYARD_RUN_TOKEN"))
        if not (api and run_id and token):
            return None
        options.setdefault("heartbeat_seconds", _env_float(environ, "FLOWYARD_HEARTBEAT_SECONDS", 10.0))
        return cls(api, run_id, token, **options)

    # -- the caller's side: no I/O, no lock -------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        """Queue one event (a log event gets its seq when it is taken into a batch)."""
        if self._final is not None or self.stopped:
            return
        self._queue.append(event)
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    def emit_final(self, event: dict[str, Any]) -> None:
        """Queue the terminal run event; events emitted after it are dropped."""
        if self._final is not None or self.stopped:
            return
        self._final = event
        self._queue.append(event)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Events not yet acknowledged by the control plane."""
        return len(self._queue) + sum(len(batch) for batch in self._outbox)

    def start(self) -> "Reporter":
        """Start the sending thread."""
        self._last_contact = time.monotonic()
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> bool:
        """Send what is queued, giving up after `timeout` seconds; True when everything was delivered."""
        self._deadline = time.monotonic() + max(0.0, timeout)
        self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        return not self.pending or self._final_sent

    # -- the sending thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self.stopped:
            if self._closing and time.monotonic() >= self._deadline:
                return
            if not self._outbox:
                batch = self._take_batch()
                if batch:
                    self._outbox.append(batch)
            if self._outbox:
                outcome = self._send(self._outbox[0])
                if outcome is _RETRY:
                    failures += 1
                    if failures == 1:
                        self._warn(f"cannot deliver events to {self.url} ({self._problem}); "
                                   f"keeping {self.pending} events and retrying")
                    self._pause.wait(self._backoff(failures))
                    continue
                if failures:
                    self._warn(f"events delivered again after {failures} failed attempts")
                failures = 0
                if outcome is _STOP:
                    self.stopped = True
                    return
                if outcome is _SENT:
                    self._outbox.popleft()
                if self._outbox or len(self._queue) >= self.max_batch or (self._closing and self._queue):
                    continue  # a backlog (or the final flush) goes out at once; otherwise wait and batch
            if self._closing:
                return
            self._wake.wait(self.flush_interval)
            self._wake.clear()

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        if self._closing:
            delay = min(delay, max(0.0, self._deadline - time.monotonic()))
        return delay

    def _take_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        queue = self._queue
        size = 0
        while queue and len(batch) < self.max_batch and size < MAX_BATCH_BYTES:
            event = queue[0]
            size += _EVENT_OVERHEAD + len(event.get("message", ""))
            if "upstream" in event:  # a fan-in's first event: up to MAX_UPSTREAM_KEYS keys
                size += sum(len(key) + 4 for key in event["upstream"])
            if event is self._final:
                if len(batch) + 1 < self.max_batch and self._heartbeat_due():
                    batch.append(self._heartbeat())
                self._final_taken = True
                batch.append(queue.popleft())
                return batch
            queue.popleft()
            if event["type"] == "log":
                event["seq"] = self._next_seq
                self._next_seq += 1
            batch.append(event)
        if not self._final_taken and len(batch) < self.max_batch and self._heartbeat_due():
            batch.append(self._heartbeat())
        return batch

    def _heartbeat_due(self) -> bool:
        """True when nothing reached the control plane for `heartbeat_seconds` (every batch is a sign of life)."""
        return time.monotonic() - self._last_contact >= self.heartbeat_seconds

    def _heartbeat(self) -> dict[str, Any]:
        self._last_contact = time.monotonic()
        return {"type": "heartbeat", "at": now_iso()}

    def _send(self, batch: list[dict[str, Any]]) -> str:
        timeout = self.request_timeout
        if self._closing:
            timeout = max(0.1, min(timeout, self._deadline - time.monotonic()))
        try:
            status, reply, text = post_events(self.url, self._token, batch, timeout)
        except Unreachable as error:
            self.failed_posts += 1
            self._problem = str(error)
            return _RETRY
        if 200 <= status < 300:
            self._delivered(batch, reply)
            return _SENT
        self.failed_posts += 1
        if status >= 500 or status in _RETRY_STATUSES:
            self._problem = f"HTTP {status}"
            return _RETRY
        if status in (401, 403, 404):
            if status == 401 and not self.batches_sent and (reply or {}).get("code") != RUN_ENDED_CODE:
                # The launch that made the token commits only after the container started: until the control plane
                # first takes a batch, a token it does not know is retried as an outage is (it may not be there yet).
                self._problem = "the control plane does not know the run's token yet (HTTP 401)"
                return _RETRY
            if self._final_taken and status == 401:  # the token died with the run: our terminal event landed
                self._final_sent = True
            else:
                self._warn(f"the control plane refused the run's events ({status}); no more are sent: {text[:200]}")
            self.stop_reason = f"HTTP {status}"
            return _STOP
        if status in _SPLIT_STATUSES:
            return self._narrow_down(batch, status, text)
        self._warn(f"the control plane rejected a batch of {len(batch)} events ({status}): {text[:500]}")
        self._outbox.popleft()
        return _SPLIT

    def _narrow_down(self, batch: list[dict[str, Any]], status: int, text: str) -> str:
        """Split a refused batch in halves until the refused event is alone; then shorten or drop it."""
        self._outbox.popleft()
        if len(batch) > 1:
            half = len(batch) // 2
            self._outbox.extendleft([batch[half:], batch[:half]])
            return _SPLIT
        event = batch[0]
        if event.get("type") == "log" and event["seq"] not in self._replaced:
            self._replaced.add(event["seq"])  # keep the seq (no gap), with a message the API will take
            kept = {key: event[key] for key in ("type", "seq", "at", "stream", "task_key") if key in event}
            kept["message"] = f"[line cut: the control plane refused it ({status})] {event.get('message', '')[:200]}"
            self._outbox.appendleft([kept])
            return _SPLIT
        self._warn(f"the control plane rejected an event ({status}), dropped: {text[:500]}")
        return _SPLIT

    def _delivered(self, batch: list[dict[str, Any]], reply: dict[str, Any] | None) -> None:
        self.batches_sent += 1
        self.events_sent += len(batch)
        self._last_contact = time.monotonic()
        for event in batch:
            if event["type"] == "log":
                self.last_log_seq_sent = event["seq"]
            elif event is self._final:
                self._final_sent = True
        if not reply or self._final_taken:
            return
        run_state = reply.get("run_state")
        over = isinstance(run_state, str) and run_state in RunState.__members__ and RunState(run_state).is_terminal
        if (reply.get("cancel_requested") is True or over) and not self._cancel_signalled:
            self._cancel_signalled = True
            if self.on_cancel_requested is not None:
                self.on_cancel_requested()

    @staticmethod
    def _warn(message: str) -> None:
        stream = getattr(sys.__stderr__, "write", None)
        if stream is not None:
            try:
                sys.__stderr__.write(f"flowyard reporter: {message}\n")
                sys.__stderr__.flush()
            except (OSError, ValueError):
                pass
