"""Promotions: the list by state, what a promotion changes, and approve / reject with the four-eyes rule."""

from __future__ import annotations

import hashlib

from django.test import Client

from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment, PromotionState
from flowyard_spec.states import Role
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest


def client_of(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def url_of(promotion) -> str:
    return f"/promotions/{promotion.pk}/"


def report_promotion(tenant, *, requested_by, requested_for=""):
    """report: v1 in production, a v2 with another limit in test, and its promotion test → production."""
    deployments.deployment_set(actor=tenant.admin, workflow=tenant.report, environment=tenant.production_env,
                               version=tenant.report_v1)
    v2 = register_version(
        actor=tenant.users[Role.DEVELOPER], workflow=tenant.report, image_digest=digest(tenant.prefix + "report-v2"),
        image_ref="127.0.0.1:5000/report:v2", git_commit_sha=hashlib.sha1(b"report-v2").hexdigest(), git_branch="main",
        git_repository="https://gitlab.example.invalid/alpha/report.git",
        config={"name": "report", "parameters": {"day": "2026-01-01", "limit": 20}})
    deployments.deployment_set(actor=tenant.admin, workflow=tenant.report, environment=tenant.test_env, version=v2)
    return deployments.promotion_request(actor=requested_by, workflow=tenant.report, source_environment=tenant.test_env,
                                         target_environment=tenant.production_env, requested_for=requested_for)


def test_the_list_shows_my_pending_promotions_by_state_never_another_teams(tenant_a, tenant_b):
    client = client_of(tenant_a.users[Role.VIEWER])
    pending = client.get("/promotions/").content.decode()
    assert url_of(tenant_a.promotion) in pending and url_of(tenant_b.promotion) not in pending
    assert 'aria-current="page" class="button">Pending<' in pending
    rejected = client.get("/promotions/", {"state": "REJECTED"}).content.decode()
    assert url_of(tenant_a.promotion) not in rejected and "No rejected promotion." in rejected


def test_another_teams_promotion_is_a_404_and_cannot_be_approved(tenant_a, tenant_b):
    client = client_of(tenant_a.users[Role.APPROVER])
    assert client.get(url_of(tenant_b.promotion)).status_code == 404
    assert client.post(url_of(tenant_b.promotion), {"decision": "approve"}).status_code == 404
    tenant_b.promotion.refresh_from_db()
    assert tenant_b.promotion.state == PromotionState.PENDING


def test_the_page_shows_the_config_diff_commits_digest_and_the_test_runs(tenant_a):
    promotion = report_promotion(tenant_a, requested_by=tenant_a.users[Role.DEVELOPER])
    html = client_of(tenant_a.users[Role.VIEWER]).get(url_of(promotion)).content.decode()
    assert '-    &quot;limit&quot;: 10' in html and '+    &quot;limit&quot;: 20' in html
    assert promotion.version.image_digest in html
    old, new = tenant_a.report_v1.git_commit_sha, promotion.version.git_commit_sha
    assert f"https://gitlab.example.invalid/alpha/report/-/compare/{old}...{new}" in html
    etl = client_of(tenant_a.users[Role.VIEWER]).get(url_of(tenant_a.promotion)).content.decode()
    assert 'data-testid="test-runs"' in etl and "QUEUED" in etl  # the run of v2 in test
    assert "The config is the same as in production." in etl


def test_the_approver_approves_and_the_version_is_deployed(tenant_a):
    response = client_of(tenant_a.users[Role.APPROVER]).post(
        url_of(tenant_a.promotion), {"decision": "approve", "comment": "tested, ship it"}, follow=True)
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.APPROVED and tenant_a.promotion.comment == "tested, ship it"
    assert Deployment.objects.get(pk=tenant_a.production_deployment.pk).version == tenant_a.v2
    assert "Approved: etl is deployed to production." in response.content.decode()


def test_the_approver_rejects_with_a_comment(tenant_a):
    client_of(tenant_a.users[Role.APPROVER]).post(url_of(tenant_a.promotion), {"decision": "reject", "comment": "not yet"})
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.REJECTED and tenant_a.promotion.comment == "not yet"
    assert Deployment.objects.get(pk=tenant_a.production_deployment.pk).version == tenant_a.v1


def test_the_requesters_approve_button_is_disabled_with_the_reason_and_a_post_is_refused(tenant_a):
    approver = tenant_a.users[Role.APPROVER]
    promotion = report_promotion(tenant_a, requested_by=approver)
    client = client_of(approver)
    html = client.get(url_of(promotion)).content.decode()
    assert 'disabled aria-describedby="approve-refusal"' in html
    assert "Four eyes: you asked for this promotion" in html
    assert 'disabled aria-describedby="reject-refusal"' not in html  # withdrawing one's own request is allowed
    response = client.post(url_of(promotion), {"decision": "approve"})
    assert response.status_code == 403 and "Four eyes: you asked for this promotion" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.state == PromotionState.PENDING and not promotion.approvals.exists()


def test_the_author_of_the_change_may_not_approve_it_either(tenant_a):
    author = tenant_a.users[Role.ADMIN]
    promotion = report_promotion(tenant_a, requested_by=tenant_a.users[Role.DEVELOPER], requested_for=author.username)
    response = client_of(author).post(url_of(promotion), {"decision": "approve"})
    assert response.status_code == 403 and "the change is yours" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.state == PromotionState.PENDING


def test_a_developer_may_not_decide_and_is_told_why(tenant_a):
    client = client_of(tenant_a.users[Role.DEVELOPER])
    html = client.get(url_of(tenant_a.promotion)).content.decode()
    assert "Approving a promotion needs the approver role on project alpha-main; you are developer." in html
    for decision in ("approve", "reject"):
        assert client.post(url_of(tenant_a.promotion), {"decision": decision}).status_code == 403
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.PENDING


def test_a_promotion_a_merge_request_drives_is_approved_in_the_merge_request(tenant_a):
    driven = tenant_a.extra["merge_request_promotion"]
    driven.promotion = tenant_a.promotion
    driven.save()
    client = client_of(tenant_a.users[Role.APPROVER])
    html = client.get(url_of(tenant_a.promotion)).content.decode()
    assert "approve the merge request on the forge" in html and 'disabled aria-describedby="approve-refusal"' in html
    response = client.post(url_of(tenant_a.promotion), {"decision": "approve"})
    assert response.status_code == 409 and "approve the merge request on the forge" in response.content.decode()
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.PENDING


def test_with_two_approvals_needed_the_first_is_recorded_and_cannot_be_given_twice(tenant_a):
    tenant_a.production_env.required_approvals = 2
    tenant_a.production_env.save()
    client = client_of(tenant_a.users[Role.APPROVER])
    first = client.post(url_of(tenant_a.promotion), {"decision": "approve"}, follow=True)
    assert "Your approval is recorded (1 of 2)" in first.content.decode()
    assert "You have approved this promotion already" in first.content.decode()
    assert client.post(url_of(tenant_a.promotion), {"decision": "approve"}).status_code == 409
    client_of(tenant_a.users[Role.ADMIN]).post(url_of(tenant_a.promotion), {"decision": "approve"})
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.APPROVED


def test_a_decided_promotion_offers_no_form_and_refuses_a_post(tenant_a):
    client = client_of(tenant_a.users[Role.APPROVER])
    client.post(url_of(tenant_a.promotion), {"decision": "reject"})
    html = client.get(url_of(tenant_a.promotion)).content.decode()
    assert 'data-testid="approve-button"' not in html
    assert client.post(url_of(tenant_a.promotion), {"decision": "approve"}).status_code == 409


def test_a_decision_without_the_csrf_token_is_refused(tenant_a):
    client = client_of(tenant_a.users[Role.APPROVER], enforce_csrf_checks=True)
    assert client.post(url_of(tenant_a.promotion), {"decision": "approve"}).status_code == 403
    tenant_a.promotion.refresh_from_db()
    assert tenant_a.promotion.state == PromotionState.PENDING
