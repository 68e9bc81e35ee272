"""Fixtures of the alerts tests: channels and rules of tenant A, and runs to end."""

from __future__ import annotations

import pytest

from controlplane.alerts import services
from controlplane.runs.models import Run
from flowyard_testkit.alert_receivers import hook_receivers, smtp_sink  # noqa: F401
from flowyard_testkit.run_ends import end_run as end  # noqa: F401 - the tests import it from here


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

