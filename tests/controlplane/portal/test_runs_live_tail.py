"""The run page's log viewer in Chromium: new lines appear within 2 s without a reload while the run is live, the
filters and the search hide lines, "jump to the first error" lands on it, and the tail stops once the run ends."""

from __future__ import annotations

from django.utils import timezone
from playwright.sync_api import Page, expect

from controlplane.runs.models import Run, RunLogLine
from flowyard_spec.states import Role, RunState
from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.portal import assert_accessible_basics, sign_in
from flowyard_testkit.tenants import build_tenant

NEW_LINE_WITHIN_MS = 2_000


def add_line(run: Run, seq: int, message: str, **fields) -> None:
    RunLogLine.objects.create(run=run, seq=seq, at=timezone.now(), message=message, **fields)


def test_the_log_follows_a_live_run_and_filters_what_it_shows(page: Page, live_server):
    tenant = build_tenant("tail")
    run = tenant.run
    sign_in(page, live_server.url, tenant.users[Role.VIEWER].username, next_path=f"/runs/{run.pk}/")
    assert_accessible_basics(page)
    lines = page.get_by_test_id("log-lines")
    expect(lines.locator("li")).to_have_count(3)

    add_line(run, 4, "loading 42 rows", task_key="load-0", level="INFO")
    expect(lines.get_by_text("loading 42 rows")).to_be_visible(timeout=NEW_LINE_WITHIN_MS)
    add_line(run, 5, "<b>not markup</b> failed", task_key="load-0", level="ERROR")
    expect(lines.get_by_text("<b>not markup</b> failed")).to_be_visible(timeout=NEW_LINE_WITHIN_MS)
    assert page.url.endswith(f"/runs/{run.pk}/")  # no reload, no navigation

    page.get_by_label("Level").select_option("ERROR")
    expect(lines.locator("li:visible")).to_have_count(1)
    expect(page.get_by_test_id("log-download")).to_have_attribute("href", f"/runs/{run.pk}/log.txt?level=ERROR")
    page.get_by_label("Level").select_option("")
    page.get_by_label("Task", exact=True).select_option("load-0")  # an option the tail added
    expect(lines.locator("li:visible")).to_have_count(2)
    page.get_by_label("Task", exact=True).select_option("")
    page.get_by_label("Search").fill("42 ROWS")
    expect(lines.locator("li:visible")).to_have_count(1)
    page.get_by_label("Search").fill("")

    page.get_by_role("link", name="Jump to the first error").click()
    expect(page.locator("#line-5")).to_be_focused()

    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED, ended_at=timezone.now())
    add_line(run, 6, "the last line")
    expect(lines.get_by_text("the last line")).to_be_visible(timeout=NEW_LINE_WITHIN_MS)
    expect(page.get_by_test_id("log-status")).to_contain_text("The run is SUCCEEDED; every line is shown.")
