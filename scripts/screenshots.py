"""Take the portal's screenshots for docs/portal.md from a running demo (`make demo`).

Signs in with the demo's password as its analytics approver (who sees runs and may decide promotions), makes
sure a promotion of the demo workflow is pending (asking for one as the developer when none is), and saves the
home page, the workflow catalog, the newest run's detail (graph, timeline, logs) and that promotion.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "flowyard-demo"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}


def api_session(url: str, username: str) -> urllib.request.OpenerDirector:
    """A urllib opener signed in through the password form (session cookie and CSRF token kept)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{url}/auth/login/").read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    body = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": csrf})
    opener.open(urllib.request.Request(f"{url}/auth/login/", data=body.encode(), headers={"Referer": url})).read()
    opener.csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")  # rotated at sign-in
    return opener


def api(opener, url: str, path: str, payload: dict | None = None) -> dict:
    """GET (or POST `payload` to) an API path with the session; the decoded JSON."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{url}/api/v1{path}", data=data, headers={
        "Content-Type": "application/json", "X-CSRFToken": opener.csrf, "Referer": url})
    with opener.open(request) as answer:
        return json.loads(answer.read() or b"{}")


def pending_promotion(url: str) -> str | None:
    """The id of a pending promotion in the demo, asking for one as the developer when there is none."""
    developer = api_session(url, "analytics-developer")
    pending = api(developer, url, "/promotions/?state=PENDING")["results"]
    if pending:
        return pending[0]["id"]
    environments = {env["name"]: env["id"] for env in api(developer, url, "/environments/")["results"]}
    for deployment in api(developer, url, "/deployments/?environment_name=test")["results"]:
        if deployment.get("version") and "production" in environments:
            created = api(developer, url, "/promotions/", {"workflow": deployment["workflow"],
                                                           "source_environment": environments["test"],
                                                           "target_environment": environments["production"]})
            return created["id"]
    return None


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; 0 when all were written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("FLOWYARD_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "portal")
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    promotion = pending_promotion(url)
    approver = api_session(url, "analytics-approver")
    runs = api(approver, url, "/runs/?limit=1")["results"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{url}/auth/login/")
        page.get_by_label("Username").fill("analytics-approver")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in with password").click()
        page.wait_for_url(f"{url}/")
        shots = {"home": "/", "catalog": "/workflows/"}
        if runs:
            shots["run"] = f"/runs/{runs[0]['id']}/"
        if promotion:
            shots["promotion"] = f"/promotions/{promotion}/"
        for name, path in shots.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            print(f"wrote {args.out / (name + '.png')}")
        browser.close()
    missing = {"home", "catalog", "run", "promotion"} - set(shots)
    if missing:
        print(f"screenshots: nothing to show for {', '.join(sorted(missing))} (is the demo running with its runs?)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
