"""The run pages in Chromium against a live control plane whose runs are real containers: a viewer watches a run
(task graph and timeline with an element per task, a log line the container prints after the page opened appears
without a reload), may not cancel it (403), and gets a 404 page for another team's run; a developer starts a run
from the trigger form with a parameter and watches it succeed."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from flowyard_spec.states import Role
from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.docker_env import docker_client, image_cleanup, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, platform, wait_until  # noqa: F401
from flowyard_testkit.portal import assert_accessible_basics, csrf_post, sign_in
from flowyard_testkit.tenants import build_tenant

RUN_TIMEOUT_MS = 90_000


def test_a_viewer_watches_a_run_live_and_may_not_cancel_it(page: Page, platform, live_server):
    url = live_server.url
    deployment = platform.deploy()
    run_id = platform.trigger(deployment, mode="sleep", seconds=8)
    wait_until(lambda: "first line of user code" in platform.logs(run_id), timeout=90, what="the run's first line")
    sign_in(page, url, platform.tenant.users[Role.VIEWER].username)

    page.goto(f"{url}/runs/{run_id}/")
    log = page.get_by_test_id("log-lines")
    expect(log).to_contain_text("first line of user code")
    assert "work done in mode sleep" not in log.inner_text(), "the line to wait for was printed before the page opened"
    expect(log).to_contain_text("work done in mode sleep", timeout=RUN_TIMEOUT_MS)  # no reload: the live tail
    assert_accessible_basics(page)

    page.reload()
    task_keys = [row.get_attribute("data-task-key") for row in page.locator("[data-testid=task-table] tr[data-task-key]").all()]
    assert task_keys, "the run reported its task runs"
    for key in task_keys:
        expect(page.locator(f"svg g.node[data-task-key='{key}']")).to_have_count(1)
        expect(page.locator(f"[data-testid=timeline] g.bar[data-task-key='{key}']")).to_have_count(1)

    answer = csrf_post(page, f"{url}/runs/{run_id}/cancel/", {})
    assert answer.status == 403
    assert platform.run(run_id)["state"] not in ("CANCELLING", "CANCELLED")

    other = build_tenant("elsewhere")
    response = page.goto(f"{url}/runs/{other.run.pk}/")
    assert response.status == 404
    assert other.prefix not in page.content()


def test_a_developer_starts_a_run_from_the_trigger_form_and_watches_it_succeed(page: Page, platform, live_server):
    url = live_server.url
    deployment = platform.deploy()
    sign_in(page, url, platform.tenant.users[Role.DEVELOPER].username)
    page.goto(f"{url}/deployments/{deployment}/trigger/")
    assert_accessible_basics(page)
    page.get_by_label("mode").fill("ok")
    page.get_by_label("seconds").fill("0.5")
    page.get_by_test_id("trigger-button").click()
    page.wait_for_url(re.compile(rf"{re.escape(url)}/runs/[0-9a-f-]+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert platform.run(run_id)["parameters"] == {"mode": "ok", "seconds": 0.5}
    # Without a reload: the page's live status line says when the run ends (the header does, had it ended already).
    expect(page.get_by_text(re.compile(r"\bSUCCEEDED\b")).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("log-lines")).to_contain_text("work done in mode ok")
    assert platform.run(run_id)["state"] == "SUCCEEDED"
