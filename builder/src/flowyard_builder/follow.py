"""Reading a run's log lines from the control plane, once or following them to the run's end."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from flowyard_builder.api_client import ApiClient, is_terminal, local_time
from flowyard_builder.control_plane import ControlPlaneError, Refused

DEFAULT_POLL_INTERVAL = 0.5  # only against a control plane that answers at once (no long polling)
FOLLOW_WAIT_SECONDS = 20  # while following, the control plane holds each request up to this long for a new line
REQUEST_MARGIN_SECONDS = 15  # a long poll's HTTP timeout: its wait plus this
LOG_PAGE_SIZE = 1000
OUTAGE_PATIENCE_SECONDS = 30.0  # while following, how long an unreachable control plane is retried


def format_log_line(line: dict[str, Any]) -> str:
    """`HH:MM:SS [task] message`: the task's key, or the stream for lines outside a task."""
    label = line.get("task_key") or line.get("stream") or "-"
    return f"{local_time(line.get('at'), '%H:%M:%S')} [{label}] {line.get('message', '')}"


def _transient(exc: ControlPlaneError) -> bool:
    return exc.status is None or exc.status >= 500


def follow_logs(
    client: ApiClient, run_id: str, *, after: int = 0, follow: bool = False,
    poll_interval: float = DEFAULT_POLL_INTERVAL, out: TextIO | None = None, err: TextIO | None = None,
    patience: float = OUTAGE_PATIENCE_SECONDS, sleep: Callable[[float], None] = time.sleep,
    wait: float = FOLLOW_WAIT_SECONDS,
) -> tuple[int, str]:
    """Print the run's lines after `after`; with `follow`, until it is terminal and none is left. Returns (cursor, state)."""
    out = out or sys.stdout
    err = err or sys.stderr
    outage_started: float | None = None
    while True:
        query: dict[str, Any] = {"after": after, "limit": LOG_PAGE_SIZE}
        if follow:
            query["wait"] = wait  # a long poll: the answer comes when a line is stored or the run ends
        asked = time.monotonic()
        try:
            page = client.get(f"/runs/{run_id}/logs/", query, timeout=wait + REQUEST_MARGIN_SECONDS if follow else None)
        except Refused as exc:
            if not follow or not _transient(exc):
                raise
            now = time.monotonic()
            if outage_started is None:
                outage_started = now
                print(f"flowyard: {exc}; retrying for up to {patience:g} s", file=err, flush=True)
            elif now - outage_started > patience:
                raise
            sleep(max(poll_interval, 0.5))
            continue
        if outage_started is not None:
            print("flowyard: the control plane answers again", file=err, flush=True)
            outage_started = None
        lines = page.get("lines") or []
        for line in lines:
            if line["seq"] <= after:
                continue  # never print a line twice, whatever the server sends
            stream = err if line.get("stream") == "stderr" else out
            print(format_log_line(line), file=stream, flush=True)
            after = line["seq"]
        after = max(after, int(page.get("next_after") or 0))
        state = str(page.get("run_state") or "")
        # `done`: the run has ended and no line is left (a control plane without `done` says so by an empty page)
        done = bool(page["done"]) if "done" in page else not lines and is_terminal(state)
        if done or (not follow and len(lines) < LOG_PAGE_SIZE):
            return after, state
        if follow and not lines and time.monotonic() - asked < poll_interval:
            sleep(poll_interval)  # nothing new and it did not wait (a control plane without long polling)
        # else: ask again at once; the control plane holds the request until there is something


def describe_end(run: dict[str, Any]) -> str:
    """One line for a run that ended: `run ID STATE (reason): message`."""
    reason = f" ({run['reason']})" if run.get("reason") else ""
    message = f": {run['message']}" if run.get("message") else ""
    return f"run {run['id']} {run['state']}{reason}{message}"
