"""Browser tests: Debian's chromium (/usr/bin/chromium, installed by scripts/provision) driven by Playwright's sync API.

Fixtures (import the ones a module uses: `from flowyard_testkit.browser import browser, page`): `browser`, one headless
chromium per test module, and `page`, a page in a fresh browser context (its own cookies) closed after the test.
Never `playwright install`: the executable is Debian's.

Why per module and not per session: while Playwright's sync API runs, an asyncio loop is marked as running in the
main thread, so `asyncio.run`, asgiref's `async_to_sync` and Django's async-unsafe guard all refuse to work there.
A session-wide browser would carry that into every module that happens to run after the first browser test.
Scoped to the module, it costs a chromium start (under a second) per browser test module and leaves the rest alone.

Nothing leaves 127.0.0.1: chromium's proxy is `LoopbackGuard`, a local server answering 403 to every request it gets
and recording where it was going. chromium sends loopback addresses (127.0.0.1, localhost, [::1]) directly, so the
live server and the OIDC provider are reached as usual, while anything else (a web font, a typo'd host) ends at the
guard, without a DNS lookup. `browser.guard.blocked` lists those attempts; it is not empty even when the pages
are fine, because Debian's /usr/bin/chromium wrapper enables remote extensions and ships Google API keys, so chromium
itself calls update.googleapis.com and accounts.google.com at start (Playwright's switches do not stop these). To
check that a page stays on loopback, watch its requests (`page.on("request", ...)`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
STOP_TIMEOUT_SECONDS = 5.0


class LoopbackGuard:
    """An HTTP proxy on 127.0.0.1 that forwards nothing: it answers 403 and records each request's target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocked: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _guard_handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The guard's address, to give chromium as its proxy."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def blocked(self) -> list[str]:
        """The targets refused so far (a URL, or host:port for a CONNECT), oldest first."""
        with self._lock:
            return list(self._blocked)

    def _record(self, target: str) -> None:
        """Note one refused target."""
        with self._lock:
            self._blocked.append(target)

    def start(self) -> LoopbackGuard:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-guard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (bounded wait) and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(STOP_TIMEOUT_SECONDS)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LoopbackGuard:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _guard_handler_for(guard: LoopbackGuard) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `guard`."""

    class Handler(BaseHTTPRequestHandler):
        """Refuses every proxied request (plain HTTP or CONNECT) with 403."""

        def _refuse(self) -> None:
            guard._record(self.path)
            body = f"blocked by the test's loopback guard: {self.path}\n".encode()
            self.send_response(403)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command not in ("HEAD", "CONNECT"):
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_CONNECT = _refuse

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
            """Keep the test output quiet."""

    return Handler


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium (Playwright sync API) for the test module; `browser.guard` is its LoopbackGuard."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/provision (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in the main thread while it is started, so
    # Django's async-unsafe guard would refuse ORM calls from the test itself (SynchronousOnlyOperation; checked by
    # tests/testkit). The test code is plain synchronous code in that thread: allow it while the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with LoopbackGuard() as guard, sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                  args=[*CHROMIUM_ARGS, f"--proxy-server={guard.url}"])
            launched.guard = guard
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A page in a new browser context (no cookies from other tests), closed with its context after the test."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
