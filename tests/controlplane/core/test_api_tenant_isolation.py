"""Another team's objects answer 404 on every object route and never appear in any list."""

from __future__ import annotations

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from flowyard_testkit.routes import api_routes
from flowyard_testkit.tenants import Tenant

# For each router basename: which of team B's objects to aim at. A new route fails the sweep until added here.
FOREIGN_OBJECT = {
    "team": lambda t: t.team,
    "team-member": lambda t: t.team_membership,
    "project": lambda t: t.project,
    "project-member": lambda t: t.project_membership,
    "personal-token": lambda t: t.personal_token,
    "ci-token": lambda t: t.ci_token,
    "environment": lambda t: t.extra_env,
    "workflow": lambda t: t.workflow,
    "version": lambda t: t.v1,
    "deployment": lambda t: t.test_deployment,
    "promotion": lambda t: t.promotion,
    "secret": lambda t: t.extra["secret"],
    "run": lambda t: t.run,
    "schedule": lambda t: t.test_deployment,
    "runner-events": lambda t: t.run,
    "runner-cache": lambda t: t.run,
    "runner-cache-index": lambda t: t.run,
    "runner-cache-upload": lambda t: t.run,
    "runner-cache-batch": lambda t: t.run,
    "audit-event": lambda t: t.extra["audit_event"],
    "backfill": lambda t: t.extra["backfill"],
    "webhook": lambda t: t.extra["webhook"],
    "webhook-delivery": lambda t: t.extra["webhook"],
    "trigger-grant": lambda t: t.extra["trigger_grant"],
    "release-rules": lambda t: t.extra["release_rules"],
    "preview": lambda t: t.extra["preview"],
    "repository": lambda t: t.extra["repository_link"],
    "forge-delivery": lambda t: t.extra["forge_delivery"],
    "forge-identity": lambda t: t.extra["forge_identity"],
    "group-mapping": lambda t: t.extra["group_mapping"],
    "merge-request-promotion": lambda t: t.extra["merge_request_promotion"],
    "gitops-gitlab-events": lambda t: t.extra["repository_link"],
    "gitops-github-events": lambda t: t.extra["repository_link"],  # a GitLab link: not this receiver's, so 404
    "run-cost": lambda t: t.run,
    "alert-channel": lambda t: t.extra["alert_channel"],
    "alert-rule": lambda t: t.extra["alert_rule"],
    "alert-delivery": lambda t: t.extra["alert_delivery"],
    "budget": lambda t: t.project,  # a budget is addressed by its project's id
    "price-table": lambda t: t.project,  # price tables belong to runtime targets, no team's: an id that is none
}
# Routes whose credential is not a user at all: a session of team A means nothing there, so team B's object
# answers the missing-credential refusal (never its data) instead of 404.
NOT_USER_CREDENTIAL = {"webhook-delivery": (401, "webhook_unauthenticated"),
                       "gitops-gitlab-events": (401, "forge_signature_invalid")}


def _ids_in(payload) -> set[str]:
    found: set[str] = set()
    if isinstance(payload, dict):
        for value in payload.values():
            found |= _ids_in(value)
    elif isinstance(payload, list):
        for item in payload:
            found |= _ids_in(item)
    elif isinstance(payload, str):
        found.add(payload)
    return found


@pytest.fixture
def foreign(tenant_a: Tenant, tenant_b: Tenant) -> Tenant:
    """Team B, with one of its audit events picked out; both teams get a secret (build_tenant makes none)."""
    from controlplane.core.models import AuditEvent
    from controlplane.deployments.secrets import secret_set

    for tenant in (tenant_a, tenant_b):
        tenant.extra["secret"] = secret_set(
            actor=tenant.admin, environment=tenant.test_env, name="API_KEY", value="not-shown-to-anyone"
        )
    tenant_b.extra["audit_event"] = AuditEvent.objects.filter(project=tenant_b.project).first()
    return tenant_b


def test_every_object_route_answers_404_for_another_teams_object(tenant_a, foreign, client_for, fingerprint):
    client = client_for(tenant_a.admin)
    object_routes = [route for route in api_routes() if route.has_pk]
    assert {route.basename for route in object_routes} <= set(FOREIGN_OBJECT), "add the new route to FOREIGN_OBJECT"
    before = fingerprint()
    checked = []
    for route in object_routes:
        url = route.url(FOREIGN_OBJECT[route.basename](foreign).pk)
        for method in route.methods:
            response = getattr(client, method)(url, data={}, format="json")
            status, code = NOT_USER_CREDENTIAL.get(route.basename, (404, "not_found"))
            assert response.status_code == status, f"{method.upper()} {url} ({route.name}) gave {response.status_code}"
            if method != "head":  # HEAD answers have no body
                assert response.json()["code"] == code
                assert foreign.prefix not in json.dumps(response.json())
            checked.append((method, route.name))
    assert fingerprint() == before, "a refused request changed the database"
    assert len(checked) >= 25


def test_no_list_shows_another_teams_objects(tenant_a, foreign, client_for):
    client = client_for(tenant_a.admin)
    foreign_ids = foreign.owned_ids()
    own_ids = tenant_a.owned_ids()
    list_routes = [route for route in api_routes() if not route.has_pk and "get" in route.methods]
    assert {route.name for route in list_routes} >= {"run-list", "project-list", "audit-event-list", "me"}
    for route in list_routes:
        response = client.get(route.url(), {"limit": 500})
        assert response.status_code == 200, route.name
        body = response.json()
        seen = _ids_in(body)
        assert not seen & foreign_ids, f"{route.name} shows team B's objects"
        if route.name == "audit-event-list":
            event_ids = {event["id"] for event in body["results"]}
            assert not event_ids & foreign.audit_event_ids(), "team B's audit events are listed"
            assert event_ids & tenant_a.audit_event_ids()
        assert foreign.prefix not in json.dumps(body), f"{route.name} mentions team B"
        if route.name not in ("me", "root", "price-table-list"):  # identity, the API root and prices hold no tenant objects
            assert seen & own_ids, f"{route.name} shows none of team A's own objects: the sweep would prove nothing"


def test_the_sweep_covers_every_path_of_the_openapi_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    resolver_paths = {route.url("00000000-0000-0000-0000-000000000000") for route in api_routes()}
    for path in schema["paths"]:
        if path.startswith("/api/v1/"):
            concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000")
            assert concrete in resolver_paths, f"{path} is in the schema but not swept"


def test_a_foreign_object_cannot_be_referenced_when_creating(tenant_a, foreign, client_for, fingerprint):
    client = client_for(tenant_a.admin)
    before = fingerprint()
    response = client.post("/api/v1/runs/", {"deployment": str(foreign.test_deployment.pk)}, format="json")
    assert response.status_code == 400
    assert "deployment" in response.json()["extra"]["fields"]
    assert foreign.prefix not in json.dumps(response.json())
    response = client.post(
        "/api/v1/workflows/", {"project": str(foreign.project.pk), "name": "intruder"}, format="json"
    )
    assert response.status_code == 400 and "project" in response.json()["extra"]["fields"]
    assert fingerprint() == before
