"""A real OpenID Connect provider for the SSO tests, a proxy that tampers with its ID tokens, and their fixtures.

`OidcProvider(clients)` runs tests/support/oidc/provider.mjs (node's oidc-provider, installed by scripts/provision)
on a free 127.0.0.1 port: `with OidcProvider([web_client(...)]) as provider:`. Accounts live in a users file that
the provider re-reads on every lookup, so `set_user` changes someone's groups or disables them at once. PKCE (S256) is
required, consent is implicit (a pre-consented first-party app), every client allowed the refresh_token grant gets a
refresh token, `authorize` and `device_approve` drive the sign-in pages with `requests`, and `rotate_keys` puts a new
signing key first (the old one stays published second) without a restart, so sessions and refresh tokens survive.

`TamperingProxy(provider)` sits in front of it: its discovery document sends the token endpoint through the proxy,
and after `tamper(claims=..., key=..., header=...)` the ID token in a token answer is rewritten and re-signed.

Fixtures (import the ones a module uses: `from flowyard_testkit.oidc import oidc_provider, tampering_proxy`):
`oidc_provider` (session; registers WEB_CLIENT_ID and CLI_CLIENT_ID against pytest-django's live server) and
`tampering_proxy` (the provider's one proxy, not tampering when a test starts and reset after it).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import RSAKey, import_key

from flowyard_testkit.platform import wait_until

PROVIDER_SCRIPT = Path(__file__).resolve().parents[1] / "oidc" / "provider.mjs"
NODE_MODULES = Path("/var/lib/flowyard/npm/node_modules")
DISCOVERY_PATH = "/.well-known/openid-configuration"
CONTROL_PATH = "/__flowyard/jwks"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

WEB_CLIENT_ID = "flowyard-web"
WEB_CLIENT_SECRET = "flowyard-web-oidc-s3cret-for-tests"
CLI_CLIENT_ID = "flowyard-cli"
CALLBACK_PATH = "/auth/oidc/callback/"
LOGGED_OUT_PATH = "/auth/logged-out/"

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 20
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "content-length", "host"})


def new_signing_key(kid: str) -> dict[str, Any]:
    """A fresh private RSA JWK (2048 bits) for RS256 signatures, with this `kid`."""
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True)
    return key.as_dict(private=True)


def public_jwk(key: dict[str, Any]) -> dict[str, Any]:
    """The public part of a private JWK."""
    return import_key(key).as_dict(private=False)


def web_client(client_id: str, *, secret: str, redirect_uris: Iterable[str],
               post_logout_redirect_uris: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    """Metadata of a confidential web client: authorization code (PKCE) and refresh tokens, client_secret_basic."""
    return {"client_id": client_id, "client_secret": secret, "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic", **extra}


def device_client(client_id: str, **extra: Any) -> dict[str, Any]:
    """Metadata of a public client of the device flow (no secret, no redirect URI) that gets refresh tokens."""
    return {"client_id": client_id, "redirect_uris": [], "response_types": [],
            "grant_types": [DEVICE_CODE_GRANT, "refresh_token"], "token_endpoint_auth_method": "none", **extra}


class OidcProvider:
    """node's oidc-provider on 127.0.0.1 with the given clients, its users in a file it re-reads on every lookup."""

    def __init__(self, clients: Iterable[dict[str, Any]] = (), *, node: str = "node",
                 node_modules: Path = NODE_MODULES) -> None:
        self._clients = [dict(client) for client in clients]
        self._node = node
        self._node_modules = Path(node_modules)
        self._keys = [new_signing_key(f"flowyard-test-{secrets.token_hex(4)}")]
        self._users: dict[str, dict[str, Any]] = {}
        self._users_lock = threading.Lock()
        self._control_token = secrets.token_urlsafe(24)
        self._dir: Path | None = None
        self._process: subprocess.Popen | None = None
        self._port = 0
        self._issuer: str | None = None
        self._proxy: TamperingProxy | None = None

    # ---------------------------------------------------------------------------------------------------- setup

    def add_client(self, client_id: str, *, redirect_uris: Iterable[str] = (), client_secret: str | None = None,
                   post_logout_redirect_uris: Iterable[str] = (), grant_types: Iterable[str] = ("authorization_code",),
                   response_types: Iterable[str] | None = None, token_endpoint_auth_method: str | None = None,
                   **extra: Any) -> dict[str, Any]:
        """Register a client (before start); response types and the auth method follow from the grants and secret."""
        if self._process is not None:
            raise RuntimeError("add clients before start(): oidc-provider reads them once")
        grant_types = list(grant_types)
        client = {"client_id": client_id, "redirect_uris": list(redirect_uris),
                  "post_logout_redirect_uris": list(post_logout_redirect_uris), "grant_types": grant_types,
                  "response_types": list(response_types if response_types is not None
                                         else ["code"] if "authorization_code" in grant_types else []),
                  "token_endpoint_auth_method": token_endpoint_auth_method
                  or ("client_secret_basic" if client_secret else "none"), **extra}
        if client_secret:
            client["client_secret"] = client_secret
        self._clients.append(client)
        return client

    def set_user(self, login: str, *, password: str, email: str = "", name: str = "", groups: Iterable[str] = (),
                 gitlab_username: str = "", disabled: bool = False, preferred_username: str | None = None) -> None:
        """Create or replace an account (its sub is `login`); the provider sees the change on its next lookup."""
        with self._users_lock:
            self._users[login] = {"password": password, "email": email, "name": name or login,
                                  "preferred_username": preferred_username or login, "groups": list(groups),
                                  "gitlab_username": gitlab_username, "disabled": disabled}
            self._write_users()

    def remove_user(self, login: str) -> None:
        """Delete an account: sign-in is refused and its refresh tokens fail with invalid_grant."""
        with self._users_lock:
            self._users.pop(login, None)
            self._write_users()

    def _write_users(self) -> None:
        """Replace the users file atomically (the lock held), so the provider never reads half a file."""
        if self._dir is None:
            return
        target = self._dir / "users.json"
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"users": self._users}, indent=2))
        os.replace(temporary, target)

    # -------------------------------------------------------------------------------------------------- process

    def start(self) -> OidcProvider:
        """Start the node process and wait (bounded) until its discovery document answers."""
        if self._process is not None:
            return self
        if not (self._node_modules / "oidc-provider" / "package.json").exists():
            raise RuntimeError(f"oidc-provider is not installed in {self._node_modules}: run scripts/provision")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="flowyard-oidc-"))
        with self._users_lock:
            self._write_users()
        self._write_config()
        self._out_log.write_text("")
        with open(self._out_log, "ab") as out, open(self.log_path, "ab") as err:
            self._process = subprocess.Popen([self._node, str(PROVIDER_SCRIPT), str(self._dir / "config.json")],
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=self._dir)
        try:
            self._issuer = wait_until(self._ready, timeout=START_TIMEOUT_SECONDS, what="oidc-provider to listen",
                                      every=0.05)
            self._port = urllib.parse.urlsplit(self._issuer).port
            wait_until(self._discovery_answers, timeout=START_TIMEOUT_SECONDS, what="the discovery document",
                       every=0.05)
        except BaseException as error:
            self._terminate()
            raise RuntimeError(f"oidc-provider did not start: {error}\n--- {self.log_path}:\n{self.log_tail()}") \
                from error
        return self

    def _write_config(self) -> None:
        """The provider's CONFIG.json: port (0 the first time), keys, clients, users file, control token."""
        config = {"port": self._port, "users_file": str(self._dir / "users.json"), "jwks": {"keys": self._keys},
                  "clients": self._clients, "control_token": self._control_token,
                  "node_modules": str(self._node_modules)}
        if self._issuer:
            config["issuer"] = self._issuer
        path = self._dir / "config.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)

    def _ready(self) -> str | None:
        """The issuer once the process printed its ready line; fails at once if the process exited."""
        if self._process.poll() is not None:
            raise RuntimeError(f"node exited with status {self._process.returncode}")
        found = re.search(r"^oidc-provider ready (\S+)$", self._out_log.read_text(), re.MULTILINE)
        return found[1] if found else None

    def _discovery_answers(self) -> bool:
        """Whether the discovery document is served and names our issuer."""
        try:
            answer = requests.get(self.discovery_url, timeout=5)
        except requests.RequestException:
            return False
        return answer.status_code == 200 and answer.json().get("issuer") == self._issuer

    def stop(self) -> None:
        """Stop the node process (SIGTERM, then SIGKILL after a bound), its proxy if any, and remove its files."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._port, self._issuer = 0, None

    def restart(self) -> None:
        """Stop and start the process on the same port (keys, clients and users kept; sessions and tokens lost)."""
        self._terminate()
        self.start()

    def _terminate(self) -> None:
        """End the node process if it runs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def _out_log(self) -> Path:
        """Where the process's stdout goes (its ready line)."""
        return self._dir / "provider.out"

    @property
    def log_path(self) -> Path:
        """The process's stderr: oidc-provider's warnings and every error it reports (grant, authorization...)."""
        return self._dir / "provider.log"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of stderr and stdout, for failure messages."""
        text = ""
        for path in (self.log_path, self._out_log):
            with contextlib.suppress(OSError, TypeError):
                text += "".join(path.read_text().splitlines(keepends=True)[-lines:])
        return text

    # ------------------------------------------------------------------------------------------------ addresses

    @property
    def issuer(self) -> str:
        """The issuer, http://127.0.0.1:<port> (no trailing slash)."""
        if self._issuer is None:
            raise RuntimeError("the provider is not started")
        return self._issuer

    @property
    def discovery_url(self) -> str:
        """The OpenID Connect discovery document's URL."""
        return self.issuer + DISCOVERY_PATH

    def discovery(self) -> dict[str, Any]:
        """The discovery document as the provider serves it."""
        answer = requests.get(self.discovery_url, timeout=HTTP_TIMEOUT_SECONDS)
        answer.raise_for_status()
        return answer.json()

    @property
    def jwks(self) -> dict[str, Any]:
        """The provider's keys, private parts included ({"keys": [...]}; the first one signs)."""
        return {"keys": [dict(key) for key in self._keys]}

    @property
    def signing_key(self) -> dict[str, Any]:
        """The private JWK that signs ID tokens now."""
        return dict(self._keys[0])

    @property
    def clients(self) -> list[dict[str, Any]]:
        """The registered clients' metadata."""
        return [dict(client) for client in self._clients]

    def tampering_proxy(self) -> TamperingProxy:
        """This provider's TamperingProxy, started on first use and kept until stop() (a stable address)."""
        if self._proxy is None:
            self._proxy = TamperingProxy(self).start()
        return self._proxy

    # -------------------------------------------------------------------------------------------------- actions

    def rotate_keys(self, kid: str | None = None) -> dict[str, Any]:
        """Sign with a new key from now on and publish the previous one second; returns the new private JWK.

        The running process swaps in a provider with the new keys (same port, same issuer): sessions, grants and
        refresh tokens carry over, as they would at a real IdP rotating its keys."""
        key = new_signing_key(kid or f"flowyard-test-{secrets.token_hex(4)}")
        keys = [key, self._keys[0]]
        if self._process is not None:
            answer = requests.put(self.issuer + CONTROL_PATH, json={"keys": keys}, timeout=HTTP_TIMEOUT_SECONDS,
                                  headers={"Authorization": f"Bearer {self._control_token}"})
            if answer.status_code != 204:
                raise RuntimeError(f"key rotation refused ({answer.status_code}):\n{self.log_tail()}")
        self._keys = keys
        if self._dir is not None:
            self._write_config()
        return dict(key)

    def authorize(self, authorization_url: str, login: str, password: str, *,
                  session: requests.Session | None = None) -> str:
        """Open an authorization URL, sign in on the login page if it shows, and return the redirect to the client.

        Redirects within the provider are followed; the one leaving it (the client's redirect_uri with `code` and
        `state`, or an error) is returned unfollowed. Raises with the page's text when a page is not what we expect
        (AssertionError with "Invalid login" when the sign-in is refused)."""
        session = session or requests.Session()
        answer = self._follow(session, session.get(authorization_url, allow_redirects=False,
                                                   timeout=HTTP_TIMEOUT_SECONDS))
        for _ in range(MAX_REDIRECTS):
            if self._leaves(answer):
                return self._location(answer)
            answer = self._next_step(session, answer, login, password)
        raise AssertionError(f"sign-in did not finish:\n{page_text(answer.text)}")

    def device_approve(self, verification_uri_complete: str, login: str, password: str, *,
                       session: requests.Session | None = None) -> None:
        """Approve a device authorization as the user would in a browser: confirm the code, then sign in."""
        session = session or requests.Session()
        answer = self._follow(session, session.get(verification_uri_complete, allow_redirects=False,
                                                   timeout=HTTP_TIMEOUT_SECONDS))
        for _ in range(MAX_REDIRECTS):
            if "Sign-in success" in answer.text:
                return
            if self._leaves(answer):
                raise AssertionError(f"device approval left the provider for {self._location(answer)}")
            answer = self._next_step(session, answer, login, password)
        raise AssertionError(f"device approval did not finish:\n{page_text(answer.text)}")

    def _next_step(self, session: requests.Session, answer: requests.Response, login: str,
                   password: str) -> requests.Response:
        """Submit the page's form: the login form with the credentials, any other (confirm, auto-post) as it is."""
        if answer.status_code >= 400 or not answer.text:
            raise AssertionError(f"the provider answered {answer.status_code} at {answer.url}:\n"
                                 f"{page_text(answer.text)}\n--- provider log:\n{self.log_tail(10)}")
        forms = parse_forms(answer.text)
        if not forms:
            raise AssertionError(f"no form at {answer.url}:\n{page_text(answer.text)}")
        form = next((form for form in forms if "login" in form.fields), forms[0])
        if "login" in form.fields:
            if "Invalid login" in answer.text:
                raise AssertionError(f"sign-in refused for {login!r}: Invalid login")
            return self._follow(session, form.submit(session, answer.url, login=login, password=password))
        return self._follow(session, form.submit(session, answer.url))

    def _follow(self, session: requests.Session, answer: requests.Response) -> requests.Response:
        """Follow redirects while they stay on the provider; the first one leaving it is returned as it is."""
        for _ in range(MAX_REDIRECTS):
            if not answer.is_redirect or self._leaves(answer):
                return answer
            answer = session.get(self._location(answer), allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)
        raise AssertionError(f"too many redirects from {answer.url}")

    def _leaves(self, answer: requests.Response) -> bool:
        """Whether `answer` redirects away from the provider."""
        return answer.is_redirect and not self._location(answer).startswith(self.issuer + "/")

    @staticmethod
    def _location(answer: requests.Response) -> str:
        """A redirect's absolute target."""
        return urllib.parse.urljoin(answer.url, answer.headers["Location"])


# ------------------------------------------------------------------------------------------------------- forms


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


# ------------------------------------------------------------------------------------------------------- proxy


@dataclass(frozen=True)
class Tampering:
    """How the proxy rewrites ID tokens: new claims from the old ones, the signing key, extra header members."""

    claims: Callable[[dict[str, Any]], dict[str, Any]] | None
    key: dict[str, Any] | None
    header: dict[str, Any] | None


class TamperingProxy:
    """An HTTP proxy on 127.0.0.1 in front of an OidcProvider that can rewrite the ID tokens of token answers.

    Every request is relayed as it is (Host set to the provider; redirects passed back, not followed). Its
    discovery document is the provider's with `token_endpoint` pointing at the proxy (the issuer and every other
    endpoint unchanged), so a relying party configured with `proxy.discovery_url` gets its tokens through here."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._tampering: Tampering | None = None
        self._requests: list[tuple[str, str]] = []
        self._token_path = "/token"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # a client gone mid-answer is no news
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The proxy's base URL, http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def discovery_url(self) -> str:
        """The rewritten discovery document's URL (point the relying party here)."""
        return self.url + DISCOVERY_PATH

    @property
    def token_endpoint(self) -> str:
        """The token endpoint as the proxy's discovery document names it."""
        return self.url + self._token_path

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request relayed so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def tamper(self, claims: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
               key: dict[str, Any] | None = None, header: dict[str, Any] | None = None) -> None:
        """From now on, rewrite the id_token of token answers: claims via `claims(old)`, signed with `key`.

        `key` defaults to the provider's real signing key, so an expired token, a wrong audience or nonce is still
        validly signed; `header` members override the JWS header ({"kid": ...}, or {"alg": "none"} for an
        unsigned token)."""
        with self._lock:
            self._tampering = Tampering(claims, dict(key) if key else None, dict(header) if header else None)

    def reset(self) -> None:
        """Relay token answers unchanged again."""
        with self._lock:
            self._tampering = None

    def start(self) -> TamperingProxy:
        """Serve in a background thread."""
        self._token_path = urllib.parse.urlsplit(self.provider.discovery()["token_endpoint"]).path
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="oidc-tampering-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (bounded wait) and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(STOP_TIMEOUT_SECONDS)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> TamperingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _relay(self, method: str, target: str, headers: list[tuple[str, str]],
               body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request to the provider and return its answer, rewritten where the proxy rewrites."""
        path = urllib.parse.urlsplit(target).path
        with self._lock:
            self._requests.append((method, path))
        upstream = urllib.parse.urlsplit(self.provider.issuer)
        rewritten = path in (DISCOVERY_PATH, self._token_path)
        forwarded = [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP
                     and not (rewritten and name.lower() == "accept-encoding")]
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=HTTP_TIMEOUT_SECONDS)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", upstream.netloc)
            for name, value in forwarded:
                connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            answer = connection.getresponse()
            status, answer_headers, payload = answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()
        if status == 200 and path == DISCOVERY_PATH:
            payload = self._discovery(payload)
        elif status == 200 and path == self._token_path:
            payload = self._token_answer(payload)
        return status, [(name, value) for name, value in answer_headers if name.lower() not in HOP_BY_HOP], payload

    def _discovery(self, payload: bytes) -> bytes:
        """The discovery document with the token endpoint through the proxy."""
        document = json.loads(payload)
        document["token_endpoint"] = self.url + urllib.parse.urlsplit(document["token_endpoint"]).path
        return json.dumps(document).encode()

    def _token_answer(self, payload: bytes) -> bytes:
        """A token answer with its id_token rewritten, when tampering is on."""
        with self._lock:
            tampering = self._tampering
        if tampering is None:
            return payload
        try:
            answer = json.loads(payload)
        except ValueError:
            return payload
        if not isinstance(answer, dict) or "id_token" not in answer:
            return payload
        answer["id_token"] = self._rewritten(answer["id_token"], tampering)
        return json.dumps(answer).encode()

    def _rewritten(self, id_token: str, tampering: Tampering) -> str:
        """`id_token` with its claims replaced and signed again as `tampering` says."""
        extracted = jws.extract_compact(id_token.encode())
        claims = json.loads(extracted.payload)
        if tampering.claims is not None:
            claims = tampering.claims(dict(claims))
        key = tampering.key or self.provider.signing_key
        header = {"alg": key.get("alg", "RS256"), "kid": key.get("kid")}
        if "typ" in extracted.headers():
            header["typ"] = extracted.headers()["typ"]
        header.update(tampering.header or {})
        header = {name: value for name, value in header.items() if value is not None}
        if header["alg"] == "none":
            return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
        return jwt.encode(header, claims, import_key(key), algorithms=[header["alg"]], default_type=None)


def _b64(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _proxy_handler_for(proxy: TamperingProxy) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `proxy`."""

    class Handler(BaseHTTPRequestHandler):
        """Reads a request whole, relays it, writes the (possibly rewritten) answer back (one per connection)."""

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, headers, payload = proxy._relay(self.command, self.path, list(self.headers.items()), body)
            except (OSError, http.client.HTTPException) as error:
                status, headers, payload = 502, [("Content-Type", "text/plain")], f"proxy: {error}\n".encode()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
            """Keep the test output quiet."""

    return Handler


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def oidc_provider(live_server) -> Iterator[OidcProvider]:
    """A started provider for the session with the web client (WEB_CLIENT_ID, secret WEB_CLIENT_SECRET; callback and
    logged-out pages on the live server) and the CLI's device client (CLI_CLIENT_ID, public). Users: `set_user`."""
    provider = OidcProvider([
        web_client(WEB_CLIENT_ID, secret=WEB_CLIENT_SECRET, redirect_uris=[f"{live_server.url}{CALLBACK_PATH}"],
                   post_logout_redirect_uris=[f"{live_server.url}{LOGGED_OUT_PATH}"]),
        device_client(CLI_CLIENT_ID),
    ])
    with provider:
        yield provider


@pytest.fixture
def tampering_proxy(oidc_provider: OidcProvider) -> Iterator[TamperingProxy]:
    """The TamperingProxy in front of `oidc_provider` (one for the session, so its address is stable), not tampering
    at the start of a test and reset after it."""
    proxy = oidc_provider.tampering_proxy()
    proxy.reset()
    yield proxy
    proxy.reset()
