"""A registration keeps which CI pipeline built the version and for which merge request, and shows them."""

from __future__ import annotations

from controlplane.workflows.models import WorkflowVersion
from flowyard_testkit.writes import registration_body


def ci(client_for, tenant):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def test_the_pipeline_and_merge_request_are_stored_and_shown(tenant_a, client_for):
    body = registration_body(tenant_a) | {
        "ci_pipeline_url": "https://gitlab.example.com/data/nightly/-/pipelines/31",
        "merge_request_iid": 4, "merge_request_url": "https://gitlab.example.com/data/nightly/-/merge_requests/4"}
    response = ci(client_for, tenant_a).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == 201, response.json()
    shown = response.json()["version"]
    assert (shown["ci_pipeline_url"], shown["merge_request_iid"]) == (body["ci_pipeline_url"], 4)
    version = WorkflowVersion.objects.get(pk=shown["id"])
    assert version.merge_request_url.endswith("/merge_requests/4")


def test_a_merge_request_number_that_is_not_a_positive_number_is_refused_by_name(tenant_a, client_for):
    for bad in (0, "four"):
        response = ci(client_for, tenant_a).post(
            "/api/v1/registrations/", registration_body(tenant_a) | {"merge_request_iid": bad}, format="json")
        assert response.status_code == 400
        assert "merge_request_iid" in response.json()["extra"]["fields"]
    assert not WorkflowVersion.objects.filter(workflow__name="nightly").exists()
