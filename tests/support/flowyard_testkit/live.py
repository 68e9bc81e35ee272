"""A live control plane (pytest-django's `live_server`) for tests of the `flowyard` CLI and the runner.

Fixtures (import the ones a module uses: `from flowyard_testkit.live import cli, tenant, tokens`):
`tenant` (team alpha from build_tenant), `tokens` (a personal token per role) and `cli`, which calls
`flowyard_builder.cli.main(args)` with FLOWYARD_API_URL pointing at the live server and the token of the
role asked for. `Runner` reports events on a run as the runner in its container does, and `log`/`run_event`
build those events.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from flowyard_spec.states import Role


def now() -> str:
    """The current time as the runner sends it (ISO 8601, UTC)."""
    return datetime.now(timezone.utc).isoformat()


def log(seq: int, message: str, task_key: str = "", stream: str = "stdout") -> dict:
    """A runner log event."""
    return {"type": "log", "seq": seq, "at": now(), "message": message, "task_key": task_key, "stream": stream}


def run_event(state: str, **extra) -> dict:
    """A runner run-state event."""
    return {"type": "run", "state": state, "at": now(), **extra}


class Runner:
    """Reports on one run (a Run or its id) like the runner in its container: POSTs event batches with its token."""

    def __init__(self, api: str, run) -> None:
        from controlplane.runs.models import Run
        from flowyard_testkit.tokens import run_token_issue

        run = run if isinstance(run, Run) else Run(pk=run)
        self.url = f"{api}/api/v1/runner/runs/{run.pk}/events/"
        self.token = run_token_issue(run=run)

    def send(self, *events: dict) -> dict:
        """POST one batch; returns the control plane's reply."""
        from flowyard_builder.control_plane import post_json

        return post_json(self.url, self.token, {"events": list(events)}).body


@pytest.fixture
def tenant():
    """Team alpha with its projects, users of every role, workflows, deployments and a run with log lines."""
    from flowyard_testkit.tenants import build_tenant

    return build_tenant("alpha")


@pytest.fixture
def tokens(tenant):
    """A personal token per role of the tenant."""
    from controlplane.tenancy.services import personal_token_create

    return {role: personal_token_create(actor=user, name=f"cli-{role.value}")[1] for role, user in tenant.users.items()}


@pytest.fixture
def cli(live_server, tokens, monkeypatch):
    """`cli(*args, role=Role.DEVELOPER)`: main(args) against the live server, with a personal token of a user with
    `role` in the environment; returns the exit code."""
    from flowyard_builder.cli import main

    monkeypatch.setenv("FLOWYARD_API_URL", live_server.url)

    def call(*args: str, role: Role = Role.DEVELOPER) -> int:
        monkeypatch.setenv("FLOWYARD_TOKEN", tokens[role])
        return main(list(args))

    return call
