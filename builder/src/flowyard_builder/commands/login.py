"""`flowyard login` and `flowyard logout`: sign in with the control plane's single sign-on and keep the token.

Login is the OAuth 2.0 device authorization grant (RFC 8628) relayed by the control plane, so the CLI needs only
the control plane's URL: it asks for a code, the person enters it at the identity provider (in any browser, on
any machine), and the CLI polls until the control plane hands out a personal token with an expiry, which goes
into the credentials file (`flowyard_builder.credentials`). Logout revokes that token and forgets it.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import webbrowser
from dataclasses import dataclass
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.api_client import API_PREFIX, API_VARIABLE, TOKEN_VARIABLE, ApiClient, parse_time, report_error
from flowyard_builder.commands.runs import INTERRUPTED
from flowyard_builder.control_plane import ControlPlaneError, Refused, post_json
from flowyard_builder.credentials import (
    Credentials,
    CredentialsError,
    Login,
    format_time,
    load_credentials,
    normalize_url,
)

DEVICE_PATH = "/auth/device/"
DEVICE_TOKEN_PATH = "/auth/device/token/"
DEFAULT_INTERVAL_SECONDS = 5.0  # RFC 8628 §3.2: when the answer names no interval
SLOW_DOWN_SECONDS = 5.0  # RFC 8628 §3.5: what `slow_down` adds to the interval, for good
TRANSIENT_STATUSES = (502, 503, 504)  # a control plane restarting or behind a busy proxy: ask again
WAITING_CODES = ("authorization_pending", "slow_down")
EXIT_CODES = ("Exit codes: 0 ok, 1 invalid input or the credentials file cannot be read or written, 3 the control "
              "plane or the identity provider refused (or is unreachable), 130 interrupted.")


class Clock:
    """The time `flowyard login` waits on between polls; tests set the module's CLOCK to one that never sleeps."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        time.sleep(seconds)


CLOCK = Clock()


class CodeExpired(Exception):
    """The code expired before the person signed in (the control plane said `expired_token`, or time ran out)."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """The control plane's answer to starting a login: the code to poll with and what the person opens and enters."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval: float
    expires_in: float

    @classmethod
    def from_answer(cls, body: dict[str, Any], where: str) -> DeviceAuthorization:
        """Read the answer; Refused naming what is missing when it is not a device authorization."""
        missing = [name for name in ("device_code", "user_code", "verification_uri", "expires_in") if not body.get(name)]
        if missing:
            raise Refused(f"the control plane at {where} answered without {', '.join(missing)}: is it a Flowyard "
                          "control plane with single sign-on?")
        return cls(device_code=str(body["device_code"]), user_code=str(body["user_code"]),
                   verification_uri=str(body["verification_uri"]),
                   verification_uri_complete=str(body.get("verification_uri_complete") or ""),
                   interval=float(body.get("interval") or DEFAULT_INTERVAL_SECONDS),
                   expires_in=float(body["expires_in"]))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `login` and `logout` commands."""
    parser = subparsers.add_parser(
        "login",
        help="sign in with single sign-on and keep a personal token for the other commands",
        description="Sign in to a control plane with its single sign-on: open the address shown (a browser is "
                    "opened for you when there is a display) and enter the code; once you have signed in at your "
                    "identity provider, the control plane hands out a personal token with an expiry, kept in "
                    "$XDG_CONFIG_HOME/flowyard/credentials.json (~/.config/flowyard/, or $FLOWYARD_CREDENTIALS_FILE) "
                    "and used by every command when neither --token nor $FLOWYARD_TOKEN is given. The control plane "
                    "you sign in to last becomes the default when neither --api nor $FLOWYARD_API_URL is given. "
                    "Signing in again replaces (and revokes) the previous token of that control plane.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--api", metavar="URL",
                        help=f"control plane base URL (default: ${API_VARIABLE}, else the one you last signed in to)")
    parser.add_argument("--name", metavar="TOKEN_NAME",
                        help='the name of the token, as listed at /api/v1/tokens/ (default: "flowyard login on HOST")')
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the address to open, e.g. when signing in on another machine")
    parser.set_defaults(handler=handle_login)

    parser = subparsers.add_parser(
        "logout",
        help="revoke the token `flowyard login` kept and forget it",
        description="Revoke the personal token `flowyard login` kept for a control plane and remove it from the "
                    "credentials file. When the control plane cannot be reached the token is still removed from the "
                    "file, and you are told until when it stays valid.",
        epilog="Exit codes: 0 signed out (or was not signed in), 1 the credentials file cannot be read or written, "
               "3 the token could not be revoked (it was still removed from the file).",
    )
    parser.add_argument("--api", metavar="URL",
                        help=f"control plane base URL (default: ${API_VARIABLE}, else the one you last signed in to)")
    parser.set_defaults(handler=handle_logout)


def default_token_name() -> str:
    """The name of a token `flowyard login` mints when --name is not given."""
    return f"flowyard login on {socket.gethostname()}"


def endpoint(api: str, path: str) -> str:
    """The absolute URL of an API path of the control plane at `api`."""
    return api.rstrip("/") + API_PREFIX + path


def start_device_authorization(api: str) -> DeviceAuthorization:
    """Ask the control plane for a device code and the code the person enters (no credentials needed)."""
    return DeviceAuthorization.from_answer(post_json(endpoint(api, DEVICE_PATH), None, {}).body, api)


def poll_for_token(api: str, authorization: DeviceAuthorization, token_name: str, clock: Clock | None = None) -> dict[str, Any]:
    """Poll the control plane every `interval` s until the person signed in: the minted token's answer.

    `slow_down` adds 5 s to the interval; an unreachable control plane or a 502/503/504 is asked again at the next
    poll. CodeExpired when the control plane says `expired_token` or `expires_in` has passed; any other refusal
    (`access_denied`, `no_access`, …) is raised as InvalidRequest or Refused with the control plane's message.
    """
    clock = clock or CLOCK
    interval = authorization.interval
    deadline = clock.now() + authorization.expires_in
    unreachable_told = False
    payload = {"device_code": authorization.device_code, "token_name": token_name}
    while True:
        clock.sleep(interval)
        if clock.now() >= deadline:
            raise CodeExpired()
        try:
            return post_json(endpoint(api, DEVICE_TOKEN_PATH), None, payload).body
        except ControlPlaneError as exc:
            code = exc.body.get("code")
            if code == "slow_down":
                interval += SLOW_DOWN_SECONDS
            elif code == "expired_token":
                raise CodeExpired() from None
            elif exc.status is None or exc.status in TRANSIENT_STATUSES:
                if not unreachable_told:
                    print(f"flowyard login: {exc}; asking again until the code expires", file=sys.stderr, flush=True)
                    unreachable_told = True
            elif code not in WAITING_CODES:
                raise


def has_display() -> bool:
    """Whether a browser window could be shown here: always on macOS and Windows, with X11 or Wayland elsewhere."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> bool:
    """Try to open `url` in a browser; False (never an error) when it cannot."""
    try:
        return bool(webbrowser.open(url))
    except Exception:  # noqa: BLE001 - any browser launcher problem only means the person opens the address by hand
        return False


def show_instructions(authorization: DeviceAuthorization, try_browser: bool) -> None:
    """Tell the person (on stderr) where to sign in and which code to enter; open a browser when asked and possible."""
    complete = authorization.verification_uri_complete
    print(f"To sign in, open {authorization.verification_uri} and enter code {authorization.user_code}", file=sys.stderr)
    if complete:
        print(f"  (or open {complete}, which has the code filled in)", file=sys.stderr)
    if try_browser and has_display() and open_browser(complete or authorization.verification_uri):
        print("A browser window was opened for you; check that it shows the same code.", file=sys.stderr)
    minutes = authorization.expires_in / 60
    left = f"{minutes:.0f} minutes" if minutes >= 2 else f"{authorization.expires_in:.0f} seconds"
    print(f"Waiting for you to sign in (the code expires in {left}; Ctrl-C stops)…", file=sys.stderr, flush=True)


def login_from_answer(api: str, answer: dict[str, Any]) -> Login:
    """The login to keep from the control plane's token answer; Refused when it is not one."""
    if not answer.get("token") or not answer.get("id"):
        raise Refused(f"the control plane at {api} answered without a token")
    try:
        expires_at = parse_time(answer.get("expires_at"))
    except ValueError:
        raise Refused(f"the control plane at {api} answered with an expiry that is not a date-time: "
                      f"{answer.get('expires_at')!r}") from None
    return Login(api=normalize_url(api), token=str(answer["token"]), token_id=str(answer["id"]),
                 username=str(answer.get("username") or ""), expires_at=expires_at)


def revoke(login: Login) -> str | None:
    """Revoke a stored login's token at its control plane: None when done (or it was already dead), else why not."""
    try:
        ApiClient(login.api, login.token).delete(f"/tokens/{login.token_id}/")
    except ControlPlaneError as exc:
        if exc.status in (401, 404):  # expired, revoked or deleted already
            return None
        return str(exc)
    return None


def chosen_api(args: argparse.Namespace, credentials: Credentials) -> str | None:
    """The control plane a login or logout is about: --api, $FLOWYARD_API_URL, else the default of the file."""
    api = args.api or os.environ.get(API_VARIABLE) or credentials.default
    return normalize_url(api) if api else None


def handle_login(args: argparse.Namespace) -> int:
    """Sign in with the device authorization grant and keep the token; its previous token is revoked."""
    token_name = args.name if args.name is not None else default_token_name()
    if not token_name.strip():
        print("flowyard login: --name must not be empty", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        api = chosen_api(args, load_credentials())  # an unreadable file is said before the person signs in
    except CredentialsError as exc:
        print(f"flowyard login: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    if not api:
        print(f"flowyard login: missing --api (or ${API_VARIABLE}): the URL of the control plane to sign in to",
              file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        authorization = start_device_authorization(api)
        show_instructions(authorization, try_browser=not args.no_browser)
        login = login_from_answer(api, poll_for_token(api, authorization, token_name))
    except CodeExpired:
        print("flowyard login: the code expired before you signed in; run `flowyard login` again", file=sys.stderr)
        return exit_codes.REFUSED
    except ControlPlaneError as exc:
        return report_error("flowyard login", exc)
    except KeyboardInterrupt:
        print("\nflowyard login: interrupted; you are not signed in", file=sys.stderr)
        return INTERRUPTED
    return keep_login(login)


def keep_login(login: Login) -> int:
    """Store a new login as the default (re-reading the file, which may have changed while the person signed in)
    and revoke the token it replaces; when it cannot be stored, revoke the new token, which nobody else holds."""
    try:
        credentials = load_credentials()
        previous = credentials.get(login.api)
        credentials.add(login)
        credentials.save()
    except CredentialsError as exc:
        problem = revoke(login)
        print(f"flowyard login: {exc}", file=sys.stderr)
        if problem:
            print(f"flowyard login: the new token {login.token_prefix} could not be revoked either ({problem}); it "
                  f"works until {format_time(login.expires_at)}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    if previous is not None and previous.token_id != login.token_id and not previous.is_expired():
        revoke(previous)  # best effort: it expires anyway
    who = f" as {login.username}" if login.username else ""
    print(f"Signed in to {login.api}{who}; token {login.token_prefix} expires {format_time(login.expires_at)}")
    if os.environ.get(TOKEN_VARIABLE):
        print(f"flowyard login: note: ${TOKEN_VARIABLE} is set, and commands use it rather than this login; "
              f"unset it to use this login", file=sys.stderr)
    return exit_codes.OK


def handle_logout(args: argparse.Namespace) -> int:
    """Revoke the stored token of the control plane and remove it from the credentials file."""
    try:
        credentials = load_credentials()
    except CredentialsError as exc:
        print(f"flowyard logout: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    api = chosen_api(args, credentials)
    login = credentials.get(api) if api else None
    if login is None:
        print(f"not signed in to {api or 'any control plane'}")
        return exit_codes.OK
    problem = None if login.is_expired() else revoke(login)
    credentials.remove(login.api)
    try:
        credentials.save()
    except CredentialsError as exc:
        print(f"flowyard logout: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    if problem:
        print(f"flowyard logout: removed your login to {login.api}, but its token {login.token_prefix} could not be "
              f"revoked ({problem}); it still works until its expiry at {format_time(login.expires_at)}. Once the "
              f"control plane answers, revoke it there: token {login.token_id} "
              f"(DELETE {login.api}{API_PREFIX}/tokens/{login.token_id}/)", file=sys.stderr)
        return exit_codes.REFUSED
    if login.is_expired():
        print(f"Signed out of {login.api} (your login had expired at {format_time(login.expires_at)})")
    else:
        print(f"Signed out of {login.api}; token {login.token_prefix} revoked")
    return exit_codes.OK
