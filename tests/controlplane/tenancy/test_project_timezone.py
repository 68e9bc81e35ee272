"""A project's time zone: the portal shows the project's times in it; only a real IANA zone is accepted."""

from __future__ import annotations

from django.test import Client

from controlplane.tenancy.models import Project
from flowyard_spec.states import Role


def test_an_admin_sets_the_projects_time_zone_and_a_wrong_one_is_refused_naming_the_field(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    url = f"/api/v1/projects/{tenant_a.project.pk}/"
    assert client.get(url).json()["timezone"] == "UTC"
    refused = client.patch(url, {"timezone": "Mars/Olympus"}, format="json")
    assert refused.status_code == 400
    assert "timezone" in refused.json()["extra"]["fields"]
    assert "IANA" in refused.json()["message"]
    assert client.patch(url, {"timezone": "Europe/Paris"}, format="json").json()["timezone"] == "Europe/Paris"


def test_the_catalog_reads_the_next_ticks_on_the_projects_wall_clock(tenant_a):
    from controlplane.deployments import services as deployments
    from controlplane.workflows import services as workflows
    from flowyard_testkit.registration import register_version

    Project.objects.filter(pk=tenant_a.project.pk).update(timezone="Asia/Tokyo")
    workflow = workflows.workflow_create(actor=None, project=tenant_a.project, name="daily")
    version = register_version(workflow=workflow, image_ref="127.0.0.1:5000/x/daily:1", image_digest="sha256:" + "d" * 64,
                               config={"name": "daily", "schedule": "cron(0 0 * * ? *)", "schedule-enabled": True})
    deployments.deployment_set(actor=None, workflow=workflow, environment=tenant_a.production_env, version=version)
    client = Client()
    client.force_login(tenant_a.users[Role.VIEWER])
    page = client.get(f"/workflows/{workflow.pk}/").content.decode()
    assert "times in the project's time zone, Asia/Tokyo" in page
    assert "09:00</time>" in page, "midnight UTC is 09:00 in Tokyo"
