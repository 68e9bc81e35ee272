"""Invalid input on every write endpoint answers 400 naming the field, and writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flowyard_testkit.tokens import run_token_issue
from flowyard_testkit.routes import api_routes
from flowyard_testkit.tenants import Tenant
from flowyard_testkit.writes import registration_body

# (route, method) -> (object in the URL, a bad body, the field the error must name)
INVALID = {
    ("team-list", "post"): (None, lambda t: {"slug": "Not A Slug!", "name": "x"}, "slug"),
    ("team-detail", "patch"): (lambda t: t.team, lambda t: {"name": ""}, "name"),
    ("team-member-list", "post"): (None, lambda t: {"team": str(t.team.pk), "user": "nobody", "role": "viewer"}, "user"),
    ("team-member-detail", "patch"): (lambda t: t.team_membership, lambda t: {"role": "owner"}, "role"),
    ("project-list", "post"): (None, lambda t: {"team": str(t.team.pk), "slug": t.project.slug, "name": "x"}, "slug"),
    ("project-detail", "patch"): (lambda t: t.project, lambda t: {"name": "x" * 201}, "name"),
    ("project-member-list", "post"): (
        None, lambda t: {"project": str(t.project.pk), "user": t.spare_user.username, "role": "boss"}, "role"),
    ("project-member-detail", "patch"): (lambda t: t.project_membership, lambda t: {"role": 5}, "role"),
    ("personal-token-list", "post"): (None, lambda t: {"name": "t", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ("ci-token-list", "post"): (None, lambda t: {"project": str(t.project.pk), "name": t.ci_token.name}, "name"),
    ("environment-list", "post"): (None, lambda t: {"project": str(t.project.pk), "name": "test", "order": 99}, "name"),
    ("environment-detail", "patch"): (lambda t: t.extra_env, lambda t: {"order": -1}, "order"),
    ("workflow-list", "post"): (None, lambda t: {"project": str(t.project.pk), "name": "Bad Name"}, "name"),
    ("workflow-detail", "patch"): (lambda t: t.workflow, lambda t: {"description": None}, "description"),
    ("version-list", "post"): (
        None, lambda t: {"workflow": str(t.workflow.pk), "image_ref": "x", "image_digest": "sha256:nothex"}, "image_digest"),
    ("deployment-list", "post"): (None, lambda t: {
        "workflow": str(t.ingest.pk), "environment": str(t.test_env.pk), "version": "not-a-uuid"}, "version"),
    ("deployment-detail", "patch"): (lambda t: t.test_deployment, lambda t: {"is_paused": "maybe"}, "is_paused"),
    ("promotion-list", "post"): (None, lambda t: {
        "workflow": str(t.report.pk), "source_environment": str(t.production_env.pk),
        "target_environment": str(t.test_env.pk)}, "target_environment"),
    ("promotion-approve", "post"): (lambda t: t.promotion, lambda t: {"comment": ["x"]}, "comment"),
    ("promotion-reject", "post"): (lambda t: t.promotion, lambda t: {"comment": {"a": 1}}, "comment"),
    ("secret-list", "post"): (None, lambda t: {
        "environment": str(t.test_env.pk), "name": "db-password", "value": "correct horse battery staple"}, "name"),
    ("run-list", "post"): (None, lambda t: {"deployment": str(t.test_deployment.pk), "parameters": {"nope": 1}}, "parameters"),
    ("registration-list", "post"): (None, lambda t: registration_body(t, colour="blue"), "config.colour"),
    ("backfill-list", "post"): (None, lambda t: {
        "deployment": str(t.test_deployment.pk), "start": "2026-01-02", "end": "2026-01-01"}, "end"),
    ("trigger-grant-list", "post"): (
        None, lambda t: {"project": str(t.project.pk), "upstream_project": "no-such-project"}, "upstream_project"),
    ("webhook-list", "post"): (None, lambda t: {"deployment": "not-a-uuid"}, "deployment"),
    ("webhook-detail", "patch"): (lambda t: t.extra["webhook"], lambda t: {"is_enabled": "maybe"}, "is_enabled"),
    ("webhook-delivery", "post"): (lambda t: t.extra["webhook"], lambda t: {"nope": 1}, "parameters"),
    ("preview-teardown", "post"): (None, lambda t: {"project": t.project.slug, "merge_request_iid": 0}, "merge_request_iid"),
    ("repository-list", "post"): (None, lambda t: {
        "project": str(t.project.pk), "forge": "gitlab", "repository_path": "no-slash", "clone_url": "https://x/y.git",
        "workflows": [{"name": "etl"}]}, "repository_path"),
    ("repository-detail", "patch"): (
        lambda t: t.extra["repository_link"], lambda t: {"workflows": [{"name": "Bad Name"}]}, "workflows.0.name"),
    ("forge-identity-list", "post"): (None, lambda t: {"forge": "bitbucket", "username": "x", "user": "nobody"}, "forge"),
    ("group-mapping-list", "post"): (None, lambda t: {"group": "x", "team": str(t.team.pk), "role": "owner"}, "role"),
    ("group-mapping-detail", "patch"): (lambda t: t.extra["group_mapping"], lambda t: {"role": "owner"}, "role"),
    ("auth-device-token", "post"): (None, lambda t: {"device_code": ""}, "device_code"),
    ("release-rules-detail", "patch"): (
        lambda t: t.extra["release_rules"], lambda t: {"branch_environment": "production"}, "branch_environment"),
    ("alert-channel-list", "post"): (None, lambda t: {
        "project": str(t.project.pk), "name": "mail", "kind": "email", "target": "not-an-address"}, "target"),
    ("alert-channel-detail", "patch"): (lambda t: t.extra["alert_channel"], lambda t: {"target": "ftp://x"}, "target"),
    ("alert-rule-list", "post"): (None, lambda t: {
        "project": str(t.project.pk), "name": "r", "events": ["run_failed"], "channels": [],
        "environments": ["no-such-env"]}, "environments"),
    ("alert-rule-detail", "patch"): (lambda t: t.extra["alert_rule"], lambda t: {"events": ["run_exploded"]}, "events.0"),
    ("budget-detail", "patch"): (lambda t: t.project, lambda t: {"monthly_amount": "-1"}, "monthly_amount"),
    ("price-table-list", "post"): (
        None, lambda t: {"runtime_target": "no-such-target", "vcpu_hour": "0.05", "gib_hour": "0.005"}, "runtime_target"),
}
# Sent with the run's own token rather than as a user.
AS_RUNNER = {("runner-events", "post"), ("runner-cache", "post"), ("runner-cache-upload", "post"),
             ("runner-cache-batch", "post")}
# Sent with the webhook's own secret (Authorization: Bearer) rather than as a user.
AS_WEBHOOK = {("webhook-delivery", "post")}
INVALID[("runner-events", "post")] = (
    lambda t: t.run, lambda t: {"events": [{"type": "log", "seq": 0, "at": "2026-01-01T00:00:00+00:00", "message": "x"}]},
    "events.0.seq",
)
INVALID[("runner-cache", "post")] = (
    lambda t: t.run, lambda t: {"key": "../../etc/passwd", "location": "ab/result.pickle"}, "key",
)
INVALID[("runner-cache-upload", "post")] = (lambda t: t.run, lambda t: {"key": "../../etc/passwd"}, "key")
INVALID[("runner-cache-batch", "post")] = (
    lambda t: t.run, lambda t: {"records": [{"key": "ab" * 32, "location": "../../etc/passwd"}]}, "records.0.location",
)
# Writes that take no input at all, so no input can be invalid.
NO_INPUT = {("run-cancel", "post"), ("schedule-pause", "post"), ("schedule-resume", "post"), ("backfill-cancel", "post"),
            ("webhook-rotate", "post"), ("repository-rotate", "post"), ("repository-sync", "post"),
            # the forges' own payloads: refused unread without the link's secret, then by the forge's shape
            # (tests/controlplane/gitops/test_forge_webhooks.py)
            ("gitops-gitlab-events", "post"), ("gitops-github-events", "post"),
            # asks the provider for a device code: nothing to give (tests/controlplane/sso/test_device_login_api.py)
            ("auth-device", "post")}


def test_every_write_endpoint_with_input_has_an_invalid_input_case():
    offered = {(route.name, method) for route in api_routes() for method in route.methods if method in ("post", "patch")}
    assert offered - NO_INPUT == set(INVALID), f"missing: {offered - NO_INPUT - set(INVALID)}"


@pytest.mark.parametrize("case", sorted(INVALID), ids=lambda case: f"{case[1].upper()} {case[0]}")
def test_invalid_input_is_refused_naming_the_field_and_nothing_is_written(
    case, tenant_a: Tenant, staff_user, client_for, fingerprint
):
    target, body, field = INVALID[case]
    route, method = case
    user = staff_user if route.startswith(("team", "group-mapping")) else tenant_a.admin
    client = client_for(user)
    if case in AS_RUNNER:
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=tenant_a.run)}")
    if case in AS_WEBHOOK:
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant_a.extra['webhook_secret']}")
    url = reverse(f"api:{route}", kwargs={"pk": target(tenant_a).pk} if target else None)
    before = fingerprint()
    response = getattr(client, method)(url, data=body(tenant_a), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()
    assert error["code"] == "invalid"
    assert field in error["extra"]["fields"], error
    assert field in error["message"]
    assert fingerprint() == before, "a refused write changed the database"
