"""CI registers a pushed image: one version per digest, branch builds land in `test`, bad configs store nothing."""

from __future__ import annotations

from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Deployment
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_testkit.writes import registration_body


def ci(client_for, tenant):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def test_a_first_branch_build_creates_the_workflow_and_is_deployed_to_test(tenant_a, client_for):
    events_before = AuditEvent.objects.count()
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", registration_body(tenant_a), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["version"]["image_digest"] == registration_body(tenant_a)["image_digest"]
    assert body["version"]["git_commit_sha"] == "a" * 40 and body["version"]["git_branch"] == "feature/faster"
    assert body["deployment"]["environment_name"] == "test"
    assert body["deployment"]["version"] == body["version"]["id"]
    workflow = Workflow.objects.get(project=tenant_a.project, name="nightly")
    assert Deployment.objects.get(workflow=workflow, environment=tenant_a.test_env).version_id is not None
    assert not Deployment.objects.filter(workflow=workflow, environment=tenant_a.production_env).exists()
    event = AuditEvent.objects.latest("pk")
    assert AuditEvent.objects.count() == events_before + 1
    assert event.action == "version.registered" and event.actor_label == "ci-token:gitlab@alpha-main"
    assert event.after["workflow_created"] is True and event.after["deployed_to"] == "test"


def test_registering_the_same_digest_again_returns_the_same_version_and_changes_nothing(tenant_a, client_for, fingerprint):
    client = ci(client_for, tenant_a)
    first = client.post("/api/v1/registrations/", registration_body(tenant_a), format="json").json()
    before = fingerprint()
    again = client.post("/api/v1/registrations/", registration_body(tenant_a), format="json")
    assert again.status_code == 200
    assert again.json()["version"]["id"] == first["version"]["id"] and again.json()["created"] is False
    assert fingerprint() == before


def test_a_new_build_moves_the_test_deployment_and_leaves_production_alone(tenant_a, client_for):
    client = ci(client_for, tenant_a)
    body = registration_body(tenant_a, name="etl", seed="build-9")
    response = client.post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 201, response.json()
    tenant_a.test_deployment.refresh_from_db()
    tenant_a.production_deployment.refresh_from_db()
    assert str(tenant_a.test_deployment.version_id) == response.json()["version"]["id"]
    assert tenant_a.production_deployment.version_id == tenant_a.v1.pk


def test_a_build_without_a_branch_is_recorded_but_not_deployed(tenant_a, client_for):
    body = registration_body(tenant_a) | {"git_branch": ""}
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 201 and response.json()["deployment"] is None


def test_an_invalid_config_names_the_field_and_stores_nothing(tenant_a, client_for, fingerprint):
    client = ci(client_for, tenant_a)
    client.post("/api/v1/registrations/", {}, format="json")  # first use stamps the token's last_used_at
    before = fingerprint()
    body = registration_body(tenant_a, schedule="cron(0 0 31 2 ? *)")
    response = client.post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 400
    assert "config.schedule" in response.json()["extra"]["fields"]
    assert fingerprint() == before
    assert not WorkflowVersion.objects.filter(image_digest=body["image_digest"]).exists()


def test_the_workflow_must_be_the_one_the_config_names(tenant_a, client_for):
    body = registration_body(tenant_a) | {"workflow": "other"}
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 400 and "workflow" in response.json()["extra"]["fields"]


def test_a_ci_token_cannot_register_into_another_project(tenant_a, tenant_b, client_for):
    response = ci(client_for, tenant_b).post("/api/v1/registrations/", registration_body(tenant_a), format="json")
    assert response.status_code == 400 and "project" in response.json()["extra"]["fields"]
    assert not Workflow.objects.filter(project=tenant_a.project, name="nightly").exists()


def test_a_schedule_that_never_fires_again_is_refused(tenant_a, client_for):
    body = registration_body(tenant_a, schedule="cron(0 0 1 1 ? 2020)")
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 400
    assert "never fires again" in response.json()["extra"]["fields"]["config.schedule"][0]
