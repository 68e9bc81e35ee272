"""`flowyard login` and `flowyard logout` against a stand-in of the control plane's login contract.

The stand-in is a real HTTP server on 127.0.0.1 (http.server in a thread) that answers as the control plane's
`/api/v1/auth/device/`, `/api/v1/auth/device/token/` and `/api/v1/tokens/<id>/` do; the CLI talks to it with
urllib as it talks to the real one. Polling waits on a fake clock, so no test sleeps.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flowyard_builder.cli import main
from flowyard_builder.commands import login as login_command
from flowyard_builder.credentials import Login, format_time, load_credentials

EXPIRES_AT = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
DEVICE = {"device_code": "dev-code-1", "user_code": "WDJB-MJHT", "verification_uri": "https://idp.example/device",
          "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT", "interval": 5,
          "expires_in": 600}
PENDING = (400, {"code": "authorization_pending", "message": "The person has not signed in yet.", "extra": {}})
SLOW_DOWN = (400, {"code": "slow_down", "message": "Polling too fast.", "extra": {}})
ACCESS_DENIED = (403, {"code": "access_denied", "message": "You refused the sign-in at the identity provider.",
                       "extra": {}})
NO_ACCESS = (403, {"code": "no_access", "message": "You signed in as ada, but none of your groups (staff) gives you "
                                                   "a role in Flowyard; ask a platform admin.", "extra": {}})
EXPIRED = (400, {"code": "expired_token", "message": "The code expired.", "extra": {}})
UNAVAILABLE = (503, {"code": "unavailable", "message": "Try again.", "extra": {}})
SUCCESS = "success"


@dataclass
class Seen:
    """One request the stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeControlPlane:
    """The control plane's login contract: `token_answers` are given in order (the last one repeats)."""

    url: str = ""
    device_answer: tuple[int, dict[str, Any]] = (200, DEVICE)
    token_answers: list[Any] = field(default_factory=lambda: [SUCCESS])
    username: str = "ada"
    live_tokens: dict[str, str] = field(default_factory=dict)  # token id -> token
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """What the control plane would answer."""
        with self.lock:
            self.seen.append(Seen(method, path, headers, body))
            if (method, path) == ("POST", "/api/v1/auth/device/"):
                return self.device_answer
            if (method, path) == ("POST", "/api/v1/auth/device/token/"):
                answer = self.token_answers.pop(0) if len(self.token_answers) > 1 else self.token_answers[0]
                return self.mint(body["token_name"]) if answer == SUCCESS else answer
            token = headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.live_tokens.values():
                return 401, {"code": "not_authenticated", "message": "Invalid or expired token.", "extra": {}}
            if method == "DELETE" and path.startswith("/api/v1/tokens/"):
                token_id = path.removeprefix("/api/v1/tokens/").strip("/")
                if self.live_tokens.get(token_id) != token:
                    return 404, {"code": "not_found", "message": "Not found.", "extra": {}}
                del self.live_tokens[token_id]
                return 204, None
            if (method, path) == ("GET", "/api/v1/runs/?limit=20"):
                return 200, {"results": [], "next": None}
            return 404, {"code": "not_found", "message": "Not found.", "extra": {}}

    def mint(self, name: str) -> tuple[int, dict[str, Any]]:
        """A new personal token, as the control plane answers once the person signed in."""
        token_id, value = str(uuid.uuid4()), f"fyp_{uuid.uuid4().hex}"
        self.live_tokens[token_id] = value
        return 201, {"id": token_id, "name": name, "prefix": value[:8], "token": value,
                     "expires_at": EXPIRES_AT.isoformat().replace("+00:00", "Z"), "username": self.username}

    def requests(self, path: str) -> list[Seen]:
        """The requests made to `path`."""
        with self.lock:
            return [seen for seen in self.seen if seen.path == path]


def serve(plane: FakeControlPlane) -> ThreadingHTTPServer:
    """Start an HTTP server on 127.0.0.1 answering as `plane`, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body = plane.answer(self.command, self.path, dict(self.headers.items()),
                                        json.loads(raw) if raw else None)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    plane.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


@pytest.fixture
def new_plane():
    """`new_plane(token_answers=[...])`: a running stand-in of the control plane."""
    servers: list[ThreadingHTTPServer] = []

    def start(**settings: Any) -> FakeControlPlane:
        plane = FakeControlPlane(**settings)
        servers.append(serve(plane))
        return plane

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plane(new_plane) -> FakeControlPlane:
    """One stand-in whose token endpoint says pending twice, then mints a token."""
    return new_plane(token_answers=[PENDING, PENDING, SUCCESS])


class FakeClock:
    """A clock whose sleep returns at once and moves its time on; `interrupt_at` makes that sleep raise Ctrl-C."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.time = 1000.0
        self.sleeps: list[float] = []
        self.interrupt_at = interrupt_at

    def now(self) -> float:
        """The fake time."""
        return self.time

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the time on."""
        self.sleeps.append(seconds)
        if self.interrupt_at is not None and len(self.sleeps) == self.interrupt_at:
            raise KeyboardInterrupt
        self.time += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> FakeClock:
    """The login's clock, never sleeping."""
    fake = FakeClock()
    monkeypatch.setattr(login_command, "CLOCK", fake)
    return fake


@pytest.fixture(autouse=True)
def browser(monkeypatch) -> list[str]:
    """The addresses the CLI asked a browser to open (none is ever opened); no display unless a test sets one."""
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: opened.append(url) or True)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "FLOWYARD_API_URL", "FLOWYARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(login_command.sys, "platform", "linux")
    return opened


def stored() -> dict[str, Login]:
    """The logins in the credentials file."""
    return load_credentials().logins


# -- signing in -----------------------------------------------------------------------------------------------

def test_login_waits_while_pending_then_stores_the_token_and_says_who(plane, clock, credentials_file, capsys):
    assert main(["login", "--api", plane.url + "/", "--no-browser"]) == 0
    out, err = capsys.readouterr()
    [token_id] = plane.live_tokens
    token = plane.live_tokens[token_id]
    assert out == f"Signed in to {plane.url} as ada; token {token[:8]}… expires {format_time(EXPIRES_AT)}\n"
    assert token not in out + err  # never the whole token
    assert err.splitlines() == [
        "To sign in, open https://idp.example/device and enter code WDJB-MJHT",
        "  (or open https://idp.example/device?user_code=WDJB-MJHT, which has the code filled in)",
        "Waiting for you to sign in (the code expires in 10 minutes; Ctrl-C stops)…",
    ]
    assert clock.sleeps == [5, 5, 5]  # the interval before every poll: pending, pending, signed in

    [device] = plane.requests("/api/v1/auth/device/")
    polls = plane.requests("/api/v1/auth/device/token/")
    assert device.body == {} and "Authorization" not in device.headers  # the person has no credentials yet
    assert len(polls) == 3 and all("Authorization" not in poll.headers for poll in polls)
    assert polls[0].body == {"device_code": "dev-code-1", "token_name": f"flowyard login on {socket.gethostname()}"}

    credentials = load_credentials()
    assert credentials.default == plane.url
    assert credentials.get(None) == Login(api=plane.url, token=token, token_id=token_id, username="ada",
                                          expires_at=EXPIRES_AT, signed_in_at=credentials.get(None).signed_in_at)
    assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"


def test_other_commands_then_use_the_stored_token(plane, capsys):
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--json"]) == 0  # neither --api nor --token: the default login
    assert json.loads(capsys.readouterr().out) == []
    [listing] = plane.requests("/api/v1/runs/?limit=20")
    assert listing.headers["Authorization"] == "Bearer " + next(iter(plane.live_tokens.values()))


def test_slow_down_adds_five_seconds_to_the_interval_for_good(new_plane, clock):
    plane = new_plane(token_answers=[PENDING, SLOW_DOWN, PENDING, SLOW_DOWN, SUCCESS],
                      device_answer=(200, {**DEVICE, "interval": 2}))
    assert main(["login", "--api", plane.url, "--no-browser", "--name", "laptop"]) == 0
    assert clock.sleeps == [2, 2, 7, 7, 12]
    assert plane.requests("/api/v1/auth/device/token/")[0].body["token_name"] == "laptop"


def test_without_an_interval_the_login_polls_every_five_seconds(new_plane, clock):
    device = {key: value for key, value in DEVICE.items() if key not in ("interval", "verification_uri_complete")}
    plane = new_plane(token_answers=[PENDING, SUCCESS], device_answer=(200, device))
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    assert clock.sleeps == [5, 5]


@pytest.mark.parametrize("refusal", [ACCESS_DENIED, NO_ACCESS], ids=["access_denied", "no_access"])
def test_a_refused_sign_in_prints_the_reason_exits_3_and_stores_nothing(new_plane, refusal, credentials_file, capsys):
    plane = new_plane(token_answers=[PENDING, refusal])
    assert main(["login", "--api", plane.url, "--no-browser"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.endswith(f"flowyard login: HTTP 403: {refusal[1]['message']}\n")
    assert not credentials_file.exists()


def test_an_expired_code_says_to_sign_in_again(new_plane, credentials_file, capsys):
    plane = new_plane(token_answers=[PENDING, EXPIRED])
    assert main(["login", "--api", plane.url, "--no-browser"]) == 3
    assert capsys.readouterr().err.endswith(
        "flowyard login: the code expired before you signed in; run `flowyard login` again\n")
    assert not credentials_file.exists()


def test_the_login_gives_up_once_expires_in_has_passed(new_plane, clock, capsys):
    plane = new_plane(token_answers=[PENDING], device_answer=(200, {**DEVICE, "expires_in": 12}))
    assert main(["login", "--api", plane.url, "--no-browser"]) == 3
    err = capsys.readouterr().err
    assert "the code expires in 12 seconds" in err and "the code expired before you signed in" in err
    assert clock.sleeps == [5, 5, 5] and len(plane.requests("/api/v1/auth/device/token/")) == 2


def test_a_control_plane_without_sso_is_a_refusal_with_its_message(new_plane, capsys):
    plane = new_plane(device_answer=(404, {"code": "sso_not_configured",
                                           "message": "Single sign-on is not configured here.", "extra": {}}))
    assert main(["login", "--api", plane.url, "--no-browser"]) == 3
    assert capsys.readouterr().err == "flowyard login: HTTP 404: Single sign-on is not configured here.\n"
    assert plane.requests("/api/v1/auth/device/token/") == []


def test_an_answer_that_is_not_a_device_authorization_is_a_refusal(new_plane, capsys):
    plane = new_plane(device_answer=(200, {"hello": "world"}))
    assert main(["login", "--api", plane.url, "--no-browser"]) == 3
    assert "answered without device_code, user_code, verification_uri, expires_in" in capsys.readouterr().err


def test_a_control_plane_that_stops_answering_for_a_while_is_asked_again(new_plane, clock, capsys):
    plane = new_plane(token_answers=[UNAVAILABLE, UNAVAILABLE, PENDING, SUCCESS])
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    err = capsys.readouterr().err
    assert err.count("flowyard login: HTTP 503: Try again.; asking again until the code expires") == 1
    assert clock.sleeps == [5, 5, 5, 5]


def test_an_unreachable_control_plane_exits_3(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once it is closed
    assert main(["login", "--api", f"http://127.0.0.1:{port}", "--no-browser"]) == 3
    assert "is unreachable" in capsys.readouterr().err


def test_ctrl_c_while_waiting_exits_130_and_stores_nothing(plane, monkeypatch, credentials_file, capsys):
    monkeypatch.setattr(login_command, "CLOCK", FakeClock(interrupt_at=2))
    assert main(["login", "--api", plane.url, "--no-browser"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("\nflowyard login: interrupted; you are not signed in\n")
    assert "Traceback" not in err and not credentials_file.exists()


def test_a_login_needs_a_url(credentials_file, capsys):
    assert main(["login", "--no-browser"]) == 1
    assert capsys.readouterr().err == ("flowyard login: missing --api (or $FLOWYARD_API_URL): the URL of the control "
                                       "plane to sign in to\n")
    assert main(["login", "--api", "http://127.0.0.1:9", "--name", " "]) == 1
    assert "--name must not be empty" in capsys.readouterr().err


def test_a_broken_credentials_file_is_said_before_anyone_signs_in(plane, credentials_file, capsys):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("{oops")
    assert main(["login", "--api", plane.url, "--no-browser"]) == 1
    assert "is not valid JSON" in capsys.readouterr().err and plane.seen == []


def test_a_token_that_cannot_be_stored_is_revoked(plane, credentials_file, monkeypatch, capsys):
    def failing_replace(source: str, target: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("flowyard_builder.credentials.os.replace", failing_replace)
    assert main(["login", "--api", plane.url, "--no-browser"]) == 1
    assert "cannot write the credentials file" in capsys.readouterr().err
    [delete] = [seen for seen in plane.seen if seen.method == "DELETE"]
    assert plane.live_tokens == {} and delete.headers["Authorization"].startswith("Bearer fyp_")


# -- browser --------------------------------------------------------------------------------------------------

def test_a_browser_opens_the_complete_address_when_there_is_a_display(plane, browser, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["login", "--api", plane.url]) == 0
    assert browser == [DEVICE["verification_uri_complete"]]
    assert "A browser window was opened for you" in capsys.readouterr().err


def test_no_browser_without_a_display_or_with_no_browser(new_plane, browser, monkeypatch):
    assert main(["login", "--api", new_plane().url]) == 0  # no DISPLAY, no WAYLAND_DISPLAY
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert main(["login", "--api", new_plane().url, "--no-browser"]) == 0
    assert browser == []


def test_a_browser_that_cannot_start_never_fails_the_login(plane, monkeypatch, capsys):
    def broken(url: str, *args: Any, **kwargs: Any) -> bool:
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "open", broken)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["login", "--api", plane.url]) == 0
    assert "A browser window was opened" not in capsys.readouterr().err


# -- several logins -------------------------------------------------------------------------------------------

def test_signing_in_again_replaces_and_revokes_the_previous_token(plane, capsys):
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    [first_id] = plane.live_tokens
    first = plane.live_tokens[first_id]
    plane.token_answers = [SUCCESS]
    assert main(["login", "--no-browser"]) == 0  # the default URL
    [second_id] = plane.live_tokens  # the first one was revoked
    assert second_id != first_id
    [delete] = [seen for seen in plane.seen if seen.method == "DELETE"]
    assert (delete.path, delete.headers["Authorization"]) == (f"/api/v1/tokens/{first_id}/", f"Bearer {first}")
    assert stored()[plane.url].token_id == second_id


def test_the_last_login_is_the_default_and_logout_falls_back_to_the_other(new_plane, monkeypatch, capsys):
    alpha, bravo = new_plane(), new_plane()
    assert main(["login", "--api", alpha.url, "--no-browser"]) == 0
    assert main(["login", "--api", bravo.url, "--no-browser"]) == 0
    assert load_credentials().default == bravo.url
    capsys.readouterr()
    assert main(["logout"]) == 0
    assert capsys.readouterr().out.startswith(f"Signed out of {bravo.url}; token fyp_")
    assert bravo.live_tokens == {} and len(alpha.live_tokens) == 1
    assert load_credentials().default == alpha.url and set(stored()) == {alpha.url}


def test_a_token_in_the_environment_is_pointed_out_after_login(plane, monkeypatch, capsys):
    monkeypatch.setenv("FLOWYARD_TOKEN", "fyp_from-env")
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    assert "$FLOWYARD_TOKEN is set, and commands use it rather than this login" in capsys.readouterr().err


# -- signing out ----------------------------------------------------------------------------------------------

def test_logout_revokes_the_token_with_itself_and_forgets_it(plane, credentials_file, capsys):
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    [token_id] = plane.live_tokens
    token = plane.live_tokens[token_id]
    capsys.readouterr()
    assert main(["logout", "--api", plane.url + "/"]) == 0
    assert capsys.readouterr().out == f"Signed out of {plane.url}; token {token[:8]}… revoked\n"
    [delete] = [seen for seen in plane.seen if seen.method == "DELETE"]
    assert (delete.path, delete.headers["Authorization"]) == (f"/api/v1/tokens/{token_id}/", f"Bearer {token}")
    assert plane.live_tokens == {} and stored() == {} and load_credentials().default is None
    assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"


def test_logout_of_a_token_already_revoked_is_done(plane, capsys):
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    plane.live_tokens.clear()  # revoked elsewhere: the control plane answers 401
    assert main(["logout"]) == 0
    assert "Signed out of" in capsys.readouterr().out and stored() == {}


def test_logout_while_the_control_plane_is_unreachable_forgets_the_token_and_warns(new_plane, capsys):
    plane = new_plane()
    assert main(["login", "--api", plane.url, "--no-browser"]) == 0
    [token_id] = plane.live_tokens
    login = stored()[plane.url]
    capsys.readouterr()
    credentials = load_credentials()
    unreachable = Login(api="http://127.0.0.1:9", token=login.token, token_id=token_id, username="ada",
                        expires_at=EXPIRES_AT)
    credentials.add(unreachable)
    credentials.save()
    assert main(["logout"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"flowyard logout: removed your login to http://127.0.0.1:9, but its token "
                          f"{login.token[:8]}… could not be revoked (the control plane at http://127.0.0.1:9 is "
                          "unreachable:")
    assert f"it still works until its expiry at {format_time(EXPIRES_AT)}" in err and token_id in err
    assert set(stored()) == {plane.url}


def test_logout_when_not_signed_in_says_so_and_exits_0(plane, capsys):
    assert main(["logout"]) == 0
    assert capsys.readouterr().out == "not signed in to any control plane\n"
    assert main(["logout", "--api", plane.url]) == 0
    assert capsys.readouterr().out == f"not signed in to {plane.url}\n"
    assert plane.seen == []


def test_logout_of_an_expired_login_only_forgets_it(plane, capsys):
    credentials = load_credentials()
    gone = datetime.now(timezone.utc) - timedelta(hours=1)
    credentials.add(Login(api=plane.url, token="fyp_expired", token_id="x", username="ada", expires_at=gone))
    credentials.save()
    assert main(["logout"]) == 0
    assert capsys.readouterr().out == f"Signed out of {plane.url} (your login had expired at {format_time(gone)})\n"
    assert plane.seen == [] and stored() == {}
