"""Every portal page meets the accessibility basics in Chromium (a title, a label for every form field, states in
words), and the header shows the person's role on the project they switched to."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from flowyard_spec.states import Role
from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.portal import assert_accessible_basics, sign_in
from flowyard_testkit.tenants import build_tenant


@pytest.fixture
def tenant(django_user_model):
    """A team with runs, promotions and audit events; its admin is also platform staff (to see /platform/)."""
    built = build_tenant("pages")
    admin = built.users[Role.ADMIN]
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return built


def test_every_page_has_a_title_labelled_fields_and_states_in_words(page: Page, live_server, tenant):
    url = live_server.url
    sign_in(page, url, tenant.users[Role.ADMIN].username)
    paths = ["/", "/workflows/", f"/workflows/{tenant.workflow.pk}/", "/runs/", f"/runs/{tenant.run.pk}/",
             f"/runs/{tenant.run.pk}/rerun/", f"/deployments/{tenant.test_deployment.pk}/trigger/", "/promotions/",
             f"/promotions/{tenant.promotion.pk}/", "/audit/", "/platform/"]
    for path in paths:
        response = page.goto(url + path)
        assert response.status == 200, path
        assert_accessible_basics(page)


def test_the_header_shows_my_role_on_the_project_i_switch_to(page: Page, live_server, tenant):
    sign_in(page, live_server.url, tenant.users[Role.APPROVER].username)
    page.get_by_label("Project").select_option(tenant.project.slug)
    expect(page.get_by_test_id("current-project")).to_contain_text(tenant.project.slug)
    expect(page.get_by_test_id("my-role")).to_have_text("approver")
