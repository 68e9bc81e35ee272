"""Promotions in the portal, in Chromium: an approver approves a promotion someone else asked for; on the one they
asked for themselves the button is refused with the four-eyes rule explained, and a POST anyway is refused."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from controlplane.deployments import services as deployments
from controlplane.deployments.models import Promotion, PromotionState
from flowyard_spec.states import Role
from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.portal import assert_accessible_basics, csrf_post, sign_in
from flowyard_testkit.tenants import build_tenant


def test_an_approver_approves_and_is_refused_on_their_own_promotion(page: Page, live_server):
    tenant = build_tenant("portal")
    approver = tenant.users[Role.APPROVER]
    own = deployments.promotion_request(actor=approver, workflow=tenant.report, source_environment=tenant.test_env,
                                        target_environment=tenant.production_env)
    sign_in(page, live_server.url, approver.username)

    page.goto(f"{live_server.url}/promotions/{tenant.promotion.pk}/")
    assert_accessible_basics(page)
    page.get_by_label("Comment").fill("tested in test, ship it")
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_text("APPROVED").first).to_be_visible()
    assert Promotion.objects.get(pk=tenant.promotion.pk).state == PromotionState.APPROVED

    page.goto(f"{live_server.url}/promotions/{own.pk}/")
    expect(page.get_by_test_id("approve-button")).to_be_disabled()
    expect(page.get_by_test_id("approve-refusal")).to_contain_text("Four eyes: you asked for this promotion")
    answer = csrf_post(page, f"{live_server.url}/promotions/{own.pk}/", {"decision": "approve", "comment": "mine"})
    assert answer.status == 403
    assert Promotion.objects.get(pk=own.pk).state == PromotionState.PENDING
