"""A recording stand-in for GitLab's and GitHub's REST APIs, served on 127.0.0.1 for the forge clients' tests.

`with RecordingForge(token="t") as forge:` serves on a free port; point a client at `forge.gitlab_api_url` or
`forge.github_api_url`. Every request is kept in `forge.requests` (method, raw path, headers, body) before it is
answered. It answers commit statuses (201 {}) and comment creation (201 {"id": n}, ids increasing) and updates
(200, or 404 for an unknown or deleted id) at any path prefix, refuses pending over pending like GitLab does, and
answers 401 when it expects a token and the request carries another. `fail_next(n, status=503)` cans failures,
`down()`/`up()` turn every answer into 503, and `stall_next(seconds)` delays an answer past a client's timeout.
The `recording_forge` fixture gives a started forge expecting `RECORDING_FORGE_TOKEN`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

RECORDING_FORGE_TOKEN = "glpat-recorder-s3cret-token"
FIRST_COMMENT_ID = 9001
STOP_TIMEOUT_SECONDS = 5.0
PREFIX = r"^(?:/[^/]+)*?"  # any API prefix: /api/v4, /api/v3 or none
GITLAB_PROJECT = r"/projects/(?P<repository>[^/]+)"  # the id is the URL-encoded path, so a single segment
GITHUB_REPOSITORY = r"/repos/(?P<repository>[^/]+/[^/]+)"


@dataclass(frozen=True)
class Route:
    """An endpoint the recorder answers: which forge, which method, which path, what it does."""

    forge: str
    action: str
    method: str
    pattern: re.Pattern[str]


ROUTES = (
    Route("gitlab", "status", "POST", re.compile(PREFIX + GITLAB_PROJECT + r"/statuses/(?P<sha>[^/]+)$")),
    Route("gitlab", "create_comment", "POST",
          re.compile(PREFIX + GITLAB_PROJECT + r"/merge_requests/(?P<number>\d+)/notes$")),
    Route("gitlab", "update_comment", "PUT",
          re.compile(PREFIX + GITLAB_PROJECT + r"/merge_requests/(?P<number>\d+)/notes/(?P<comment>\d+)$")),
    Route("github", "status", "POST", re.compile(PREFIX + GITHUB_REPOSITORY + r"/statuses/(?P<sha>[^/]+)$")),
    Route("github", "create_comment", "POST",
          re.compile(PREFIX + GITHUB_REPOSITORY + r"/issues/(?P<number>\d+)/comments$")),
    Route("github", "update_comment", "PATCH",
          re.compile(PREFIX + GITHUB_REPOSITORY + r"/issues/comments/(?P<comment>\d+)$")),
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the recorder received it, and the status it answered."""

    method: str
    path: str  # as sent, percent-encoding kept, without the query
    query: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int

    def header(self, name: str) -> str | None:
        """A header's value (any case of the name), or None."""
        return self.headers.get(name.lower())

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Answer:
    """A response: status, JSON body, extra headers."""

    status: int
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StoredComment:
    """A comment the recorder holds."""

    forge: str
    repository: str
    number: int
    body: str


class RecordingForge:
    """A threaded HTTP server on 127.0.0.1 recording every request and answering like GitLab and GitHub."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: deque[Answer] = deque()
        self._stalls: deque[float] = deque()
        self._down = False
        self._comments: dict[int, StoredComment] = {}
        self._comment_ids = itertools.count(FIRST_COMMENT_ID)
        self._statuses: list[dict[str, Any]] = []
        self._released = threading.Event()  # set on stop: a stalled answer stops waiting
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # a client gone mid-answer is no news
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def gitlab_api_url(self) -> str:
        """Where a GitLab client's api_url points (…/api/v4)."""
        return f"{self.url}/api/v4"

    @property
    def github_api_url(self) -> str:
        """Where a GitHub client's api_url points (the root, like https://api.github.com)."""
        return self.url

    def start(self) -> RecordingForge:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="recording-forge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the serving thread (bounded); stalled answers are released."""
        self._released.set()
        if self._thread is not None:
            stopping = threading.Thread(target=self._server.shutdown, daemon=True)
            stopping.start()
            with contextlib.suppress(OSError):  # wake the serving loop now rather than at its next poll
                socket.create_connection(self._server.server_address, timeout=1).close()
            stopping.join(STOP_TIMEOUT_SECONDS)
            self._thread.join(STOP_TIMEOUT_SECONDS)
            alive, self._thread = self._thread.is_alive(), None
            if alive:
                raise RuntimeError(f"the recording forge did not stop within {STOP_TIMEOUT_SECONDS} s")
        self._server.server_close()

    def __enter__(self) -> RecordingForge:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(self, n: int = 1, *, status: int = 503, body: Any = None,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next `n` requests with `status` (and `body`, `headers`, e.g. Retry-After) whatever they ask."""
        answer = Answer(status, body if body is not None else {"message": f"recorded failure {status}"},
                        dict(headers or {}))
        with self._lock:
            self._failures.extend([answer] * n)

    def stall_next(self, seconds: float) -> None:
        """Wait `seconds` (or until stop) before answering the next request."""
        with self._lock:
            self._stalls.append(seconds)

    def down(self) -> None:
        """Answer 503 to everything until `up()`."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._down = False

    def delete_comment(self, comment_id: int | str) -> None:
        """Delete a comment as a person on the forge would: updating it then answers 404."""
        with self._lock:
            self._comments.pop(int(comment_id), None)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def comments(self) -> dict[int, str]:
        """The comments that exist, id to body."""
        with self._lock:
            return {comment_id: comment.body for comment_id, comment in self._comments.items()}

    @property
    def statuses(self) -> list[dict[str, Any]]:
        """The commit statuses accepted so far, oldest first (forge, repository, sha and the JSON sent)."""
        with self._lock:
            return [dict(status) for status in self._statuses]

    def find(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> list[RecordedRequest]:
        """The requests with this method and path (a string matches the whole path, a pattern searches it)."""
        return [request for request in self.requests
                if (method is None or request.method == method.upper())
                and (path is None or (request.path == path if isinstance(path, str) else path.search(request.path)))]

    def only(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> RecordedRequest:
        """The one request with this method and path (AssertionError if there are none or several)."""
        found = self.find(method, path)
        assert len(found) == 1, f"expected one {method or 'request'} {path or ''}, got {len(found)}: {self.requests}"
        return found[0]

    def clear(self) -> None:
        """Forget the recorded requests (comments and statuses stay)."""
        with self._lock:
            self._requests.clear()

    def _answer(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        """Decide the answer to a request and record both, before anything is written back."""
        with self._lock:
            stall = self._stalls.popleft() if self._stalls else 0.0
        if stall:
            self._released.wait(stall)
        with self._lock:
            answer = self._decide(method, path, headers, body)
            self._requests.append(RecordedRequest(method, path, query, headers, body, answer.status))
        return answer

    def _decide(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer to a request, the lock held."""
        if self._down:
            return Answer(503, {"message": "503 Service Unavailable"})
        if self._failures:
            return self._failures.popleft()
        for route in ROUTES:
            match = route.pattern.match(path)
            if match and route.method == method:
                return self._routed(route, match.groupdict(), headers, body)
        return Answer(404, {"message": "404 Not Found"})

    def _routed(self, route: Route, values: dict[str, str], headers: dict[str, str], body: bytes) -> Answer:
        """Answer a request for a known endpoint, the lock held."""
        if self.token is not None and not self._authorized(route.forge, headers):
            return Answer(401, {"message": "401 Unauthorized" if route.forge == "gitlab" else "Bad credentials"})
        try:
            payload = json.loads(body) if "json" in headers.get("content-type", "") else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return Answer(400, {"message": "Problems parsing JSON"})
        repository = values["repository"].replace("%2F", "/").replace("%2f", "/")
        if route.action == "status":
            return self._set_status(route.forge, repository, values["sha"], payload)
        if route.action == "create_comment":
            comment_id = next(self._comment_ids)
            self._comments[comment_id] = StoredComment(route.forge, repository, int(values["number"]),
                                                       str(payload.get("body", "")))
            return Answer(201, {"id": comment_id, "body": payload.get("body", "")})
        comment = self._comments.get(int(values["comment"]))
        same_place = comment is not None and comment.forge == route.forge and comment.repository == repository and (
            "number" not in values or comment.number == int(values["number"]))
        if not same_place:
            return Answer(404, {"message": "404 Not found" if route.forge == "gitlab" else "Not Found"})
        comment.body = str(payload.get("body", ""))
        return Answer(200, {"id": int(values["comment"]), "body": comment.body})

    def _set_status(self, forge: str, repository: str, sha: str, payload: dict[str, Any]) -> Answer:
        """Accept a commit status, or refuse pending over pending as GitLab does, the lock held."""
        name = payload.get("name") if forge == "gitlab" else payload.get("context")
        state = payload.get("state")
        if forge == "gitlab":
            latest = [status for status in self._statuses
                      if (status["forge"], status["repository"], status["sha"], status["name"])
                      == (forge, repository, sha, name)]
            if latest and state == "pending" and latest[-1]["payload"].get("state") in ("pending", "running"):
                was = latest[-1]["payload"]["state"]
                return Answer(400, {"message": f"Cannot transition status via :enqueue from :{was} "
                                               '(Reason(s): Status cannot transition via "enqueue")'})
        self._statuses.append({"forge": forge, "repository": repository, "sha": sha, "name": name,
                               "payload": payload})
        return Answer(201, {})

    def _authorized(self, forge: str, headers: dict[str, str]) -> bool:
        """Whether the request carries the expected token the way `forge` expects it."""
        if forge == "gitlab":
            return headers.get("private-token") == self.token
        return headers.get("authorization") == f"Bearer {self.token}"


def _handler_for(forge: RecordingForge) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `forge`."""

    class Handler(BaseHTTPRequestHandler):
        """Reads a request whole, asks the forge for the answer, writes it back (HTTP/1.0: one per connection)."""

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = forge._answer(self.command, path, query, headers, body)
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def recording_forge() -> Iterator[RecordingForge]:
    """A started RecordingForge expecting RECORDING_FORGE_TOKEN, stopped after the test."""
    with RecordingForge(token=RECORDING_FORGE_TOKEN) as forge:
        yield forge
