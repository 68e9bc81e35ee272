"""Browser helpers of the portal tests: signing in with the password form, and the accessibility basics every page
must meet (a title, a label for every form field, states written out rather than shown by colour alone)."""

from __future__ import annotations

from playwright.sync_api import Page

PASSWORD = "pw"  # build_tenant's users
TIMEOUT_MS = 15_000

# Every visible form field without a label (a <label for>, a wrapping <label>, aria-label or aria-labelledby).
UNLABELLED_FIELDS_JS = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))
"""
# Every state chip whose text does not name its state (so colour would be all there is).
WORDLESS_CHIPS_JS = """
() => [...document.querySelectorAll('.chip')].filter(el => !el.textContent.trim().match(/[A-Z_]{4,}/))
  .map(el => el.outerHTML.slice(0, 120))
"""


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD, *, next_path: str = "/") -> None:
    """Sign in through the portal's password form and land on `next_path`."""
    page.goto(f"{base_url}/auth/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in with password").click()
    page.wait_for_url(f"{base_url}{next_path}", timeout=TIMEOUT_MS)


def assert_accessible_basics(page: Page) -> None:
    """The page has a title, every form field a label, and every state chip its state in words."""
    assert page.title().strip(), f"{page.url} has no title"
    assert page.evaluate(UNLABELLED_FIELDS_JS) == [], f"unlabelled fields on {page.url}"
    assert page.evaluate(WORDLESS_CHIPS_JS) == [], f"states shown by colour alone on {page.url}"


def csrf_post(page: Page, url: str, form: dict[str, str]):
    """POST a form with the browser's session and CSRF token, as a hand-made request would (not via a button)."""
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    return page.request.post(url, form={**form, "csrfmiddlewaretoken": token}, headers={"Referer": url},
                             max_redirects=0)
