"""Run tokens for tests that play the runner: the launcher issues them in production, inside its claim."""

from __future__ import annotations

from controlplane.runs.models import Run
from controlplane.tenancy.tokens import RUN_PREFIX, new_token


def run_token_issue(*, run: Run) -> str:
    """Give a run a fresh token for its runner (replacing any earlier one); returns the value."""
    value, _, hashed = new_token(RUN_PREFIX)
    Run.objects.filter(pk=run.pk).update(token_hash=hashed)
    run.token_hash = hashed
    return value
