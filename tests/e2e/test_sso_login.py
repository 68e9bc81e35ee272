"""Issue 13's acceptance, in a real browser: a person signs in through the company's OpenID Connect provider (node's
oidc-provider on 127.0.0.1) and their groups decide what they may do.

A member of analytics-developers clicks "Sign in with SSO", signs in at the provider, lands back signed in and sees
team analytics' projects, not ml's; may trigger a run but not approve. Moved to analytics-approvers at the provider,
they sign out (the provider's session ends too) and in again, and may approve. Removed from every group, their next
sign-in is refused with a page that says why, and their personal token answers 401.
"""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect

from controlplane.gitops.models import ForgeIdentity
from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.oidc import oidc_provider  # noqa: F401
from flowyard_testkit.sso import PASSWORD, SsoWorld, sso_world  # noqa: F401

TIMEOUT_MS = 15_000


def sign_in_with_sso(page: Page, world: SsoWorld, login: str) -> None:
    """From a page of the control plane that needs a sign-in, go through the provider's login page."""
    page.get_by_role("link", name="Sign in with SSO").click()
    page.wait_for_url(f"{world.provider.issuer}/**", timeout=TIMEOUT_MS)
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.url}/", timeout=TIMEOUT_MS)


def api_post(page: Page, world: SsoWorld, path: str, data: dict) -> int:
    """POST to the API with the browser's session cookie and CSRF token, as the portal's buttons do."""
    csrf = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    answer = page.request.post(f"{world.url}{path}", data=data, headers={"X-CSRFToken": csrf, "Referer": world.url})
    return answer.status


def sign_out(page: Page, world: SsoWorld) -> None:
    """Sign out of Flowyard, confirm at the provider (RP-initiated logout), land on the signed-out page."""
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name=re.compile("sign me out", re.I)).click()
    page.wait_for_url(f"{world.url}/auth/logged-out/**", timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()


def test_groups_at_the_provider_decide_what_a_person_may_do_from_one_sign_in_to_the_next(page: Page, sso_world: SsoWorld):
    world = sso_world
    login = world.person("alice", "analytics-developers", gitlab_username="alice-gl")
    analytics, ml = world.analytics, world.ml

    page.goto(f"{world.url}/")
    expect(page).to_have_url(re.compile(r"/auth/login/\?next=/$"))
    sign_in_with_sso(page, world, login)
    expect(page.get_by_test_id("signed-in-as")).to_have_text("alice")
    projects = page.get_by_test_id("projects")
    expect(projects).to_contain_text(analytics.project.slug)
    expect(projects.locator(f"tr[data-project='{analytics.project.slug}']")).to_contain_text("developer")
    expect(projects).not_to_contain_text(ml.project.slug)
    assert ForgeIdentity.objects.filter(forge="gitlab", username="alice-gl", user__username="alice").exists(), \
        "the provider's gitlab_username claim maps alice's merge-request approvals to her"

    assert api_post(page, world, "/api/v1/runs/", {"deployment": str(analytics.test_deployment.pk)}) == 201
    approve = f"/api/v1/promotions/{analytics.promotion.pk}/approve/"
    assert api_post(page, world, approve, {"comment": "ship it"}) == 403
    token = page.request.post(f"{world.url}/api/v1/tokens/", data={"name": "laptop"}, headers={
        "X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"),
        "Referer": world.url}).json()["token"]

    world.person("alice", "analytics-approvers", gitlab_username="alice-gl")
    sign_out(page, world)
    page.goto(f"{world.url}/")
    sign_in_with_sso(page, world, login)
    expect(page.get_by_test_id("projects").locator(f"tr[data-project='{analytics.project.slug}']")).to_contain_text(
        "approver")
    assert api_post(page, world, approve, {"comment": "ship it"}) == 200

    world.person("alice")  # in no group at all
    sign_out(page, world)
    page.goto(f"{world.url}/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("none of your groups gives you a role", timeout=TIMEOUT_MS)
    expect(refusal).to_contain_text("platform admin")
    page.goto(f"{world.url}/")
    expect(page).to_have_url(re.compile(r"/auth/login/"))
    answer = requests.get(f"{world.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 401
