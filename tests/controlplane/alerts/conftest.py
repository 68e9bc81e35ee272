"""Fixtures of the alerts tests: channels and rules of tenant A, and runs to end."""

from __future__ import annotations

import pytest
from django.db import transaction

from controlplane.alerts import services
from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from flowyard_spec.states import RunReason, RunState
from flowyard_testkit.alert_receivers import hook_receivers, smtp_sink  # noqa: F401


@pytest.fixture
def receiver(hook_receivers):  # noqa: F811
    """An HTTP receiver answering 200."""
    return hook_receivers()


@pytest.fixture
def hook_channel(tenant_a, receiver):
    """Tenant A's generic webhook channel to `receiver`, with its secret."""
    channel, secret = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="hook",
                                              kind="webhook", target=receiver.url)
    channel.secret = secret
    return channel


@pytest.fixture
def failure_rule(tenant_a, hook_channel):
    """Tenant A's rule sending run_failed and run_recovered to the webhook channel."""
    return services.rule_create(actor=tenant_a.admin, project=tenant_a.project, name="failures",
                                events=["run_failed", "run_recovered"], channels=[hook_channel])


def new_run(tenant, deployment=None) -> Run:
    """A queued run of tenant's test deployment (or `deployment`)."""
    source = tenant.run
    return Run.objects.create(deployment=deployment or source.deployment, version=source.version, state="QUEUED")


def end(run: Run, state: RunState, reason: RunReason | None = None) -> Run:
    """Bring a run to RUNNING, then end it (receivers of run_ended run on commit)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.RUNNING:
            lifecycle.transition(run, RunState.RUNNING)
        lifecycle.transition(run, state, reason=reason)
        run.save()
    return run
