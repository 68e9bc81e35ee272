"""A default-branch registration (`request_promotion`) deploys the build to test and asks for test → production
of exactly that version, once; a conflicting pending promotion refuses the whole registration."""

from __future__ import annotations

from controlplane.deployments.models import Promotion
from controlplane.workflows.models import WorkflowVersion
from flowyard_testkit.writes import registration_body


def ci(client_for, tenant):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def default_branch_build(tenant, **extra):
    return registration_body(tenant) | {"git_branch": "main", "request_promotion": True,
                                        "requested_for": "ada", **extra}


def test_a_default_branch_build_is_deployed_to_test_and_proposed_for_production(tenant_a, client_for):
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", default_branch_build(
        tenant_a, merge_request_url="https://gitlab.example.com/data/nightly/-/merge_requests/4"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deployment"]["environment_name"] == "test"
    promotion = Promotion.objects.get(pk=body["promotion"]["id"])
    assert (promotion.state, promotion.source_environment, promotion.target_environment) == (
        "PENDING", tenant_a.test_env, tenant_a.production_env)
    assert promotion.version.image_digest == registration_body(tenant_a)["image_digest"], "exactly that build"
    assert promotion.requested_for == "ada" and promotion.requested_by_label.startswith("ci-token:")
    assert promotion.merge_request_url.endswith("/merge_requests/4")


def test_running_the_same_pipeline_again_finds_the_same_promotion(tenant_a, client_for):
    client = ci(client_for, tenant_a)
    first = client.post("/api/v1/registrations/", default_branch_build(tenant_a), format="json").json()
    again = client.post("/api/v1/registrations/", default_branch_build(tenant_a), format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["promotion"]["id"] == first["promotion"]["id"]
    assert Promotion.objects.filter(workflow__name="nightly").count() == 1


def test_another_versions_pending_promotion_refuses_the_registration_and_stores_nothing(tenant_a, client_for):
    client = ci(client_for, tenant_a)
    assert client.post("/api/v1/registrations/", default_branch_build(tenant_a), format="json").status_code == 201
    versions_before = WorkflowVersion.objects.count()
    newer = default_branch_build(tenant_a) | {"image_digest": "sha256:" + "9" * 64}
    refused = client.post("/api/v1/registrations/", newer, format="json")
    assert refused.status_code == 409, refused.json()
    assert refused.json()["code"] == "promotion_pending"
    assert WorkflowVersion.objects.count() == versions_before, "the newer build was not recorded either"


def test_a_build_without_a_branch_cannot_ask_for_a_promotion(tenant_a, client_for):
    refused = ci(client_for, tenant_a).post(
        "/api/v1/registrations/", default_branch_build(tenant_a, git_branch=""), format="json")
    assert refused.status_code == 400
    assert "request_promotion" in refused.json()["extra"]["fields"]
    assert not Promotion.objects.filter(workflow__name="nightly").exists()
