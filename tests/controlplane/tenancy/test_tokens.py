"""API tokens: shown once, stored only as a hash, accepted by header, refused once revoked or expired."""

from __future__ import annotations

import datetime
import hashlib
import logging

import pytest

from controlplane.core.models import AuditEvent
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from controlplane.deployments.models import Promotion
from controlplane.tenancy.models import PersonalToken
from controlplane.workflows import services as workflows
from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.states import Role
from flowyard_testkit.tenants import Tenant, digest


def bearer(value: str) -> APIClient:
    """An API client that sends `Authorization: Bearer <value>` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def create_personal_token(tenant: Tenant, **body) -> tuple[str, str]:
    """Create a personal token for the tenant's admin through the API; return (id, value)."""
    response = bearer(tenant.personal_token_value).post("/api/v1/tokens/", {"name": "laptop-2", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"], response.json()["token"]


def version_body(tenant: Tenant, workflow=None, seed: str = "ci-v3") -> dict:
    return {
        "workflow": str((workflow or tenant.workflow).pk),
        "image_ref": f"127.0.0.1:5000/{tenant.prefix}/etl:{seed}",
        "image_digest": digest(tenant.prefix + seed),
        "git_branch": "feature/faster",
        "config": {"name": (workflow or tenant.workflow).name},
    }


# -- personal tokens -----------------------------------------------------------------------------


def test_a_new_personal_token_is_shown_once_and_never_again(tenant_a):
    admin = bearer(tenant_a.personal_token_value)
    token_id, value = create_personal_token(tenant_a)
    assert value.startswith("fyp_")
    listed = admin.get("/api/v1/tokens/")
    assert listed.status_code == 200
    assert token_id in {token["id"] for token in listed.json()["results"]}
    assert value not in listed.content.decode()
    assert all("token" not in token for token in listed.json()["results"])
    shown = admin.get(f"/api/v1/tokens/{token_id}/")
    assert shown.status_code == 200 and shown.json()["prefix"] == value[:12]
    assert "token" not in shown.json() and value not in shown.content.decode()


def test_only_the_sha256_of_a_personal_token_is_stored(tenant_a, fingerprint):
    token_id, value = create_personal_token(tenant_a)
    stored = PersonalToken.objects.get(pk=token_id)
    assert stored.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert value not in repr(PersonalToken.objects.filter(pk=token_id).values_list())
    assert value not in repr(fingerprint()), "the token value was written to some table"


def test_a_personal_token_authenticates_as_its_user(tenant_a):
    _, value = create_personal_token(tenant_a)
    me = bearer(value).get("/api/v1/me/")
    assert me.status_code == 200, me.json()
    assert me.json()["username"] == tenant_a.admin.username
    assert me.json()["roles"][tenant_a.project.slug] == "admin"


def test_a_revoked_personal_token_is_refused(tenant_a):
    token_id, value = create_personal_token(tenant_a)
    assert bearer(value).get("/api/v1/me/").status_code == 200
    assert bearer(tenant_a.personal_token_value).delete(f"/api/v1/tokens/{token_id}/").status_code == 204
    response = bearer(value).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_expired_personal_token_is_refused(tenant_a):
    client = bearer(tenant_a.personal_token_value)
    assert client.get("/api/v1/me/").status_code == 200
    PersonalToken.objects.filter(pk=tenant_a.personal_token.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_personal_token_cannot_outlive_the_configured_maximum(tenant_a):
    max_days = settings.FLOWYARD.personal_token_max_days
    too_late = timezone.now() + datetime.timedelta(days=max_days + 1)
    tokens_before = PersonalToken.objects.count()
    response = bearer(tenant_a.personal_token_value).post(
        "/api/v1/tokens/", {"name": "forever", "expires_at": too_late.isoformat()}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "expires_at" in response.json()["extra"]["fields"]
    assert "expires_at" in response.json()["message"]
    assert PersonalToken.objects.count() == tokens_before
    within = timezone.now() + datetime.timedelta(days=max_days - 1)
    token_id, _ = create_personal_token(tenant_a, expires_at=within.isoformat())
    assert abs(PersonalToken.objects.get(pk=token_id).expires_at - within) < datetime.timedelta(seconds=1)


def test_a_personal_token_value_never_reaches_the_logs(tenant_a, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    with CaptureQueriesContext(connection) as queries:  # SQL is logged (with parameters) at DEBUG while this is on
        token_id, value = create_personal_token(tenant_a)
        client = bearer(value)
        assert client.get("/api/v1/me/").status_code == 200
        assert client.get("/api/v1/tokens/").status_code == 200
        assert client.delete(f"/api/v1/tokens/{token_id}/").status_code == 204
        assert client.get("/api/v1/me/").status_code == 401
    assert any("tenancy_personaltoken" in record.getMessage() for record in caplog.records), "SQL was not captured"
    assert value not in caplog.text
    assert all(value not in query["sql"] for query in queries.captured_queries)


# -- CI tokens -----------------------------------------------------------------------------------


def test_a_new_ci_token_is_shown_once_and_never_listed(tenant_a):
    admin = bearer(tenant_a.personal_token_value)
    response = admin.post("/api/v1/ci-tokens/", {"project": str(tenant_a.project.pk), "name": "github"}, format="json")
    assert response.status_code == 201, response.json()
    value = response.json()["token"]
    assert value.startswith("fyc_")
    listed = admin.get("/api/v1/ci-tokens/", {"project": str(tenant_a.project.pk)})
    assert response.json()["id"] in {token["id"] for token in listed.json()["results"]}
    assert value not in listed.content.decode()
    assert value not in admin.get(f"/api/v1/ci-tokens/{response.json()['id']}/").content.decode()


def test_a_ci_token_registers_a_version_once_per_digest(tenant_a):
    ci = bearer(tenant_a.ci_token_value)
    first = ci.post("/api/v1/versions/", version_body(tenant_a), format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["registered_by_label"] == f"ci-token:gitlab@{tenant_a.project.slug}"
    again = ci.post("/api/v1/versions/", version_body(tenant_a), format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]
    assert WorkflowVersion.objects.filter(image_digest=digest(tenant_a.prefix + "ci-v3")).count() == 1


def test_a_ci_token_requests_a_promotion_in_its_own_project(tenant_a):
    response = bearer(tenant_a.ci_token_value).post("/api/v1/promotions/", {
        "workflow": str(tenant_a.report.pk),
        "source_environment": str(tenant_a.test_env.pk),
        "target_environment": str(tenant_a.production_env.pk),
        "requested_for": tenant_a.users[Role.DEVELOPER].username,
    }, format="json")
    assert response.status_code == 201, response.json()
    promotion = Promotion.objects.get(pk=response.json()["id"])
    assert promotion.state == "PENDING" and promotion.version == tenant_a.report_v1
    assert promotion.requested_by is None and promotion.requested_by_label.startswith("ci-token:gitlab@")


CI_REFUSED = {
    "list runs": lambda t: ("get", "/api/v1/runs/", None),
    "trigger a run in production": lambda t: ("post", "/api/v1/runs/", {"deployment": str(t.production_deployment.pk)}),
    "cancel a run": lambda t: ("post", f"/api/v1/runs/{t.run.pk}/cancel/", {}),
    "read a run somebody else started": lambda t: ("get", f"/api/v1/runs/{t.run.pk}/", None),
    "approve a promotion": lambda t: ("post", f"/api/v1/promotions/{t.promotion.pk}/approve/", {}),
    "act as a person": lambda t: ("get", "/api/v1/me/", None),
}


@pytest.mark.parametrize("what", list(CI_REFUSED))
def test_a_ci_token_may_not(what, tenant_a, fingerprint):
    method, url, body = CI_REFUSED[what](tenant_a)
    before = fingerprint()
    client = bearer(tenant_a.ci_token_value)
    response = client.get(url) if method == "get" else client.post(url, body, format="json")
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    after = fingerprint()
    after.pop("tenancy.ProjectToken"), before.pop("tenancy.ProjectToken")  # using a token records its last use
    audit_before, audit_after = before.pop("core.AuditEvent"), after.pop("core.AuditEvent")
    assert after == before
    assert len(audit_after) == len(audit_before) + 1  # the refusal itself is on record
    refusal = AuditEvent.objects.latest("pk")
    assert refusal.action == "ci.refused" and refusal.actor_label == f"ci-token:gitlab@{tenant_a.project.slug}"
    assert refusal.project == tenant_a.project and refusal.after["path"] == url.split("?")[0]


def test_a_ci_token_cannot_reference_another_projects_workflow(tenant_a, tenant_b):
    sibling = workflows.workflow_create(actor=None, project=tenant_a.empty_project, name="etl")
    ci = bearer(tenant_a.ci_token_value)
    versions_before = WorkflowVersion.objects.count()
    for workflow in (tenant_b.workflow, sibling):
        response = ci.post("/api/v1/versions/", version_body(tenant_a, workflow=workflow), format="json")
        assert response.status_code == 400, response.json()
        assert list(response.json()["extra"]["fields"]) == ["workflow"]
    promotion = ci.post("/api/v1/promotions/", {
        "workflow": str(tenant_b.report.pk),
        "source_environment": str(tenant_a.test_env.pk),
        "target_environment": str(tenant_a.production_env.pk),
    }, format="json")
    assert promotion.status_code == 400 and "workflow" in promotion.json()["extra"]["fields"]
    assert WorkflowVersion.objects.count() == versions_before


def test_a_revoked_ci_token_is_refused(tenant_a):
    ci = bearer(tenant_a.ci_token_value)
    admin = bearer(tenant_a.personal_token_value)
    assert admin.delete(f"/api/v1/ci-tokens/{tenant_a.ci_token.pk}/").status_code == 204
    versions_before = WorkflowVersion.objects.count()
    response = ci.post("/api/v1/versions/", version_body(tenant_a), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert WorkflowVersion.objects.count() == versions_before
