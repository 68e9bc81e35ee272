"""TamperingProxy: an HTTP proxy in front of an OidcProvider that can rewrite and re-sign its ID tokens."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.jwk import import_key

from flowyard_testkit.oidc.constants import DISCOVERY_PATH, HTTP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS

if TYPE_CHECKING:  # annotations only: provider.py imports this module, not the other way round at run time
    from flowyard_testkit.oidc.provider import OidcProvider

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "content-length", "host"})


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
