"""HTML helpers for driving the provider's sign-in pages with `requests`: Form, parse_forms and page_text."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser

import requests

from flowyard_testkit.oidc.constants import HTTP_TIMEOUT_SECONDS


@dataclass
class Form:
    """An HTML form: where it goes, its fields with their initial values, and its named submit buttons."""

    action: str
    method: str
    fields: dict[str, str]
    buttons: dict[str, tuple[str, str]]  # label -> (name, value) of buttons with a name

    def submit(self, session: requests.Session, page_url: str, *, button: str | None = None,
               **values: str) -> requests.Response:
        """Send the form as a browser would (fields overridden by `values`, the named button's value if asked)."""
        data = {**self.fields, **values}
        if button is not None:
            name, value = self.buttons[button]
            data[name] = value
        url = urllib.parse.urljoin(page_url, self.action or page_url)
        if self.method == "get":
            return session.get(url, params=data, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)
        return session.post(url, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)


class _FormParser(HTMLParser):
    """Collects the forms of a page and their inputs and buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._button: tuple[str, str] | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(attributes.get("action", ""), attributes.get("method", "get").lower(), {}, {})
            self.forms.append(self._current)
        elif self._current is None:
            return
        elif tag in ("input", "select", "textarea") and attributes.get("name"):
            if attributes.get("type", "text").lower() not in ("submit", "button", "image", "reset"):
                self._current.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "button":
            self._button, self._label = (attributes.get("name", ""), attributes.get("value", "")), []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._current is not None:
            if self._button[0]:
                self._current.buttons["".join(self._label).strip()] = self._button
            self._button = None
        elif tag == "form":
            self._current = None


def parse_forms(html: str) -> list[Form]:
    """The forms of an HTML page, in order."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


class _TextParser(HTMLParser):
    """Collects the visible text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> str:
    """An HTML page's visible text, one chunk a line (for failure messages)."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    return "\n".join(parser.parts)
