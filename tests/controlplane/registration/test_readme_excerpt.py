"""A registration keeps the README excerpt CI sends (for the catalog), shows it, and refuses one that is too long."""

from __future__ import annotations

import pytest

from controlplane.core.errors import ValidationFailed
from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.states import Role
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest
from flowyard_testkit.writes import registration_body

EXCERPT = "Loads the nightly numbers into the warehouse and tells finance when they are in."


def ci(client_for, tenant):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def test_the_readme_excerpt_is_stored_and_shown(tenant_a, client_for):
    response = ci(client_for, tenant_a).post(
        "/api/v1/registrations/", registration_body(tenant_a) | {"readme_excerpt": EXCERPT}, format="json")
    assert response.status_code == 201, response.json()
    shown = response.json()["version"]
    assert shown["readme_excerpt"] == EXCERPT
    assert WorkflowVersion.objects.get(pk=shown["id"]).readme_excerpt == EXCERPT
    read = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/versions/{shown['id']}/")
    assert read.status_code == 200 and read.json()["readme_excerpt"] == EXCERPT


def test_without_an_excerpt_the_version_has_none(tenant_a, client_for):
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", registration_body(tenant_a), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"]["readme_excerpt"] == ""


def test_a_description_in_the_config_is_kept_with_the_config(tenant_a, client_for):
    body = registration_body(tenant_a, description="Nightly numbers, for finance.")
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"]["config"]["description"] == "Nightly numbers, for finance."


def test_an_excerpt_or_a_description_over_2000_characters_is_refused_by_name_and_nothing_is_stored(
        tenant_a, client_for, fingerprint):
    client = ci(client_for, tenant_a)
    client.post("/api/v1/registrations/", {}, format="json")  # first use stamps the token's last_used_at
    before = fingerprint()
    response = client.post("/api/v1/registrations/", registration_body(tenant_a) | {"readme_excerpt": "x" * 2001},
                           format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["readme_excerpt"]
    response = client.post("/api/v1/registrations/", registration_body(tenant_a, description="x" * 2001),
                           format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["config.description"]
    assert fingerprint() == before
    accepted = client.post("/api/v1/registrations/", registration_body(tenant_a) | {"readme_excerpt": "x" * 2000},
                           format="json")
    assert accepted.status_code == 201, accepted.json()


def test_the_registration_service_refuses_a_long_excerpt_too(tenant_a):
    with pytest.raises(ValidationFailed) as refused:
        register_version(actor=tenant_a.users[Role.DEVELOPER], workflow=tenant_a.workflow,
                         image_digest=digest("too-long"), image_ref="127.0.0.1:5000/etl:long",
                         config={"name": tenant_a.workflow.name}, readme_excerpt="x" * 2001)
    assert list(refused.value.extra["fields"]) == ["readme_excerpt"]
    assert not WorkflowVersion.objects.filter(image_digest=digest("too-long")).exists()
