"""Every API error has one shape, {"code", "message", "extra"}, and a message a person can act on."""

from __future__ import annotations

import uuid

from rest_framework.test import APIClient

from controlplane.tenancy.models import Team
from flowyard_spec.states import Role


def assert_error(response, status: int, code: str) -> dict:
    """The response is an error of `status` with `code`, in the one shape; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "extra"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip()
    assert isinstance(body["extra"], dict)
    return body


def test_an_anonymous_request_is_told_to_authenticate_with_a_bearer_token():
    response = APIClient().get("/api/v1/runs/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused_with_the_same_shape():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer fyp_not-a-real-token")
    body = assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")
    assert "token" in body["message"]
    client.credentials(HTTP_AUTHORIZATION="Bearer something-else")
    response = client.get("/api/v1/me/")
    assert "fyp_" in assert_error(response, 401, "authentication_failed")["message"], "it says which tokens exist"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_object_is_not_found(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    assert_error(client.get(f"/api/v1/runs/{uuid.uuid4()}/"), 404, "not_found")
    assert_error(client.get("/api/v1/workflows/not-a-uuid/"), 404, "not_found")


def test_put_is_not_offered(tenant_a, client_for):
    response = client_for(tenant_a.admin).put(
        f"/api/v1/projects/{tenant_a.project.pk}/", {"name": "Replaced"}, format="json"
    )
    body = assert_error(response, 405, "method_not_allowed")
    assert "PUT" in body["message"]
    assert "PUT" not in response["Allow"] and "PATCH" in response["Allow"]
    approve = client_for(tenant_a.admin).get(f"/api/v1/promotions/{tenant_a.promotion.pk}/approve/")
    assert_error(approve, 405, "method_not_allowed")


def test_malformed_json_is_a_parse_error(tenant_a, client_for):
    response = client_for(tenant_a.users[Role.DEVELOPER]).post(
        "/api/v1/runs/", data='{"deployment": ', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_invalid_input_names_each_field(tenant_a, client_for):
    response = client_for(tenant_a.users[Role.DEVELOPER]).post("/api/v1/runs/", {"parameters": []}, format="json")
    body = assert_error(response, 400, "invalid")
    assert set(body["extra"]["fields"]) == {"deployment", "parameters"}
    assert "deployment" in body["message"] and "parameters" in body["message"]


def test_a_missing_role_says_which_role_is_needed(tenant_a, client_for):
    response = client_for(tenant_a.users[Role.VIEWER]).post(f"/api/v1/runs/{tenant_a.run.pk}/cancel/", format="json")
    body = assert_error(response, 403, "permission_denied")
    assert body["extra"] == {"required_role": "developer", "your_role": "viewer"}


def test_deleting_a_team_that_still_owns_projects_is_a_conflict_that_says_what_to_do(tenant_a, staff_user, client_for):
    response = client_for(staff_user).delete(f"/api/v1/teams/{tenant_a.team.pk}/")
    body = assert_error(response, 409, "team_not_empty")
    assert "2 project(s)" in body["message"]
    assert "move or delete them first" in body["message"]
    assert Team.objects.filter(pk=tenant_a.team.pk).exists()
