"""OidcProvider: node's oidc-provider run on 127.0.0.1 for the tests, its clients' metadata and signing keys."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
from joserfc.jwk import RSAKey, import_key

from flowyard_testkit.oidc.constants import DISCOVERY_PATH, HTTP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS
from flowyard_testkit.oidc.pages import page_text, parse_forms
from flowyard_testkit.oidc.proxy import TamperingProxy
from flowyard_testkit.platform import wait_until

PROVIDER_SCRIPT = Path(__file__).resolve().parents[2] / "oidc" / "provider.mjs"
NODE_MODULES = Path("/var/lib/flowyard/npm/node_modules")
CONTROL_PATH = "/__flowyard/jwks"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

WEB_CLIENT_ID = "flowyard-web"
WEB_CLIENT_SECRET = "flowyard-web-oidc-s3cret-for-tests"
CLI_CLIENT_ID = "flowyard-cli"
CALLBACK_PATH = "/auth/oidc/callback/"
LOGGED_OUT_PATH = "/auth/logged-out/"

START_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 20


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
