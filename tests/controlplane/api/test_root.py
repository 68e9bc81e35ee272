"""`GET /api/v1/` is the API's front door: it answers without a token and lists every resource and the docs."""

from __future__ import annotations

import pytest

from controlplane.api.root import ApiRootView

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_resource_with_its_absolute_url_for_anyone(client_for):
    response = client_for(None).get("/api/v1/")
    assert response.status_code == 200, response.content
    body = response.json()
    resources = body["resources"]
    for name in ("projects", "workflows", "versions", "registrations", "deployments", "promotions", "runs",
                 "schedules", "backfills", "audit-events", "tokens", "ci-tokens", "me"):
        assert name in resources, f"{name} missing from the API root: {sorted(resources)}"
    assert resources["runs"] == "http://testserver/api/v1/runs/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert body["docs"].startswith("http://testserver/api/")


def test_every_listed_resource_is_there_for_an_authenticated_caller(client_for, tenant_a):
    from flowyard_spec.states import Role

    viewer = client_for(tenant_a.users[Role.VIEWER])
    resources = viewer.get("/api/v1/").json()["resources"]
    answers = {name: viewer.get(url).status_code for name, url in resources.items()}
    write_only = {name for name, status in answers.items() if status == 405}
    assert write_only == {"registrations"}, "CI only POSTs there; everything else lists"
    assert {name: status for name, status in answers.items() if status not in (200, 405)} == {}


def test_the_api_root_names_endpoints_never_objects(client_for, tenant_a):
    text = client_for(None).get("/api/v1/").content.decode()
    assert tenant_a.project.slug not in text and str(tenant_a.project.pk) not in text
    assert ApiRootView.permission_classes, "public on purpose, like the schema"
