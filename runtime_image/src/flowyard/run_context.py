"""What the control plane tells a run about itself: its id, environment, schedule tick and upstream run.

    from flowyard import run_context

    ctx = run_context()
    if ctx.upstream_run_id:  # started by another workflow's success (triggers.on_success)
        ...

Read from the environment the control plane gives every run container; outside Flowyard (a local run) every
field is None. Standard library only: the SDK never imports the control plane.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

RUN_ID = "FLOWYARD_RUN_ID"
ENVIRONMENT = "FLOWYARD_ENVIRONMENT"
SCHEDULED_FOR = "FLOWYARD_SCHEDULED_FOR"
UPSTREAM_RUN_ID = "FLOWYARD_UPSTREAM_RUN_ID"


@dataclass(frozen=True)
class RunContext:
    """The run this code executes in, as the control plane described it when it launched the run."""

    run_id: str | None
    environment: str | None
    scheduled_for: datetime | None
    upstream_run_id: str | None


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def environ_moment(environ: Mapping[str, str], name: str) -> datetime | None:
    """The aware datetime in variable `name` (ISO 8601, `Z` allowed, naive read as UTC), None when unset."""
    text = _text(environ, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an ISO 8601 time such as 2026-01-01T14:00:00+00:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def run_context(environ: Mapping[str, str] | None = None) -> RunContext:
    """The current run's context from FLOWYARD_RUN_ID, FLOWYARD_ENVIRONMENT, FLOWYARD_SCHEDULED_FOR and
    FLOWYARD_UPSTREAM_RUN_ID (`environ` defaults to os.environ); a variable that is not set reads as None."""
    environ = os.environ if environ is None else environ
    return RunContext(
        run_id=_text(environ, RUN_ID),
        environment=_text(environ, ENVIRONMENT),
        scheduled_for=environ_moment(environ, SCHEDULED_FOR),
        upstream_run_id=_text(environ, UPSTREAM_RUN_ID),
    )
