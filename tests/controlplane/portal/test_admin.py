"""The platform page: runtime targets and their health, quotas and usage per project; staff only."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from controlplane.runs.models import Run
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import Role, RunReason, RunState


def platform_page(user):
    client = Client()
    client.force_login(user)
    return client.get("/platform/")


def test_staff_see_every_projects_quotas_and_usage(tenant_a, tenant_b, staff_user):
    tenant_a.project.max_concurrent_runs = 1
    tenant_a.project.max_memory_mib_per_run = 4096
    tenant_a.project.save()
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.RUNNING)
    response = platform_page(staff_user)
    html = response.content.decode()
    assert response.status_code == 200 and "<title>Platform · Flowyard</title>" in html
    assert f'data-project="{tenant_a.project.slug}"' in html and f'data-project="{tenant_b.project.slug}"' in html
    row = html[html.index(f'data-project="{tenant_a.project.slug}"'):]
    row = row[:row.index("</tr>")]
    assert "1 / 1 <strong>at the limit</strong>" in row and "4096 MiB" in row


def test_runtime_targets_show_what_their_runs_say_about_them(tenant_a, staff_user):
    healthy = RuntimeTarget.objects.create(name="docker-main", kind="docker", is_default=True, max_concurrent_runs=4)
    troubled = RuntimeTarget.objects.create(name="ecs-batch", kind="ecs")
    RuntimeTarget.objects.create(name="spare", kind="local")
    now = timezone.now()
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.RUNNING, runtime_target=healthy, started_at=now,
                                                 heartbeat_at=now)
    lost = Run.objects.create(deployment=tenant_a.test_deployment, version=tenant_a.v2, state=RunState.CRASHED,
                              reason=RunReason.HEARTBEAT_LOST, runtime_target=troubled,
                              started_at=now - datetime.timedelta(hours=2), ended_at=now - datetime.timedelta(hours=1))
    assert lost.pk
    html = platform_page(staff_user).content.decode()
    row = {name: html[html.index(f'data-target="{name}"'):] for name in ("docker-main", "ecs-batch", "spare")}
    assert "no runs lost in 24 h" in row["docker-main"][:row["docker-main"].index("</tr>")]
    assert "1 of 4" in row["docker-main"][:row["docker-main"].index("</tr>")]
    assert "1 run lost in 24 h" in row["ecs-batch"][:row["ecs-batch"].index("</tr>")]
    assert "never used" in row["spare"][:row["spare"].index("</tr>")]


@pytest.mark.parametrize("role", list(Role))
def test_members_of_any_role_get_a_404(tenant_a, role):
    assert platform_page(tenant_a.users[role]).status_code == 404


def test_the_platform_link_shows_for_staff_only(tenant_a, staff_user):
    assert 'href="/platform/"' in platform_page(staff_user).content.decode()
    client = Client()
    client.force_login(tenant_a.admin)
    assert 'href="/platform/"' not in client.get("/workflows/").content.decode()


def test_nobody_signed_in_is_sent_to_sign_in():
    assert Client().get("/platform/").status_code == 302
