"""A small client of the control plane's REST API for people: a personal token (`fyp_…`), standard library only.

The token is --token, else $FLOWYARD_TOKEN, else the one `flowyard login` stored for the control plane's URL
(`flowyard_builder.credentials`); without --api or $FLOWYARD_API_URL, the URL last signed in to is used.

Errors are the ones of `flowyard_builder.control_plane`: `InvalidRequest` (a 400 answer, exit code 1) and
`Refused` (401/403/404/409/5xx or unreachable, exit code 3). `NotFound` is what resolving a name
(project, workflow, deployment) raises when it finds nothing: invalid input, exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from flowyard_builder import __version__, exit_codes
from flowyard_builder.control_plane import (
    DEFAULT_TIMEOUT_SECONDS,
    ControlPlaneError,
    InvalidRequest,
    decode_body,
    post_json,
    send_request,
)
from flowyard_builder.credentials import CredentialsError, Login, format_time, load_credentials
from flowyard_spec.states import RunState

API_PREFIX = "/api/v1"
MAX_PAGE_SIZE = 500  # the API's largest page
TOKEN_VARIABLE = "FLOWYARD_TOKEN"
API_VARIABLE = "FLOWYARD_API_URL"

Query = Mapping[str, Any] | Sequence[tuple[str, Any]]


class NotFound(InvalidRequest):
    """A name given on the command line matched nothing the caller can see (exit code 1)."""


class MissingSettings(Exception):
    """--api or --token was not given, its environment variable is not set and no login stands in (exit code 1)."""


class LoginExpired(MissingSettings):
    """The token `flowyard login` stored for the control plane has expired: sign in again."""


class ApiClient:
    """Authenticated calls to `{base_url}/api/v1/...` with a personal token."""

    def __init__(self, base_url: str, token: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def url(self, path: str, query: Query | None = None) -> str:
        """The absolute URL of an API path (e.g. "/runs/"), with the query's non-empty values."""
        url = self.base_url + API_PREFIX + path
        if query:
            items = query.items() if isinstance(query, Mapping) else query
            encoded = urllib.parse.urlencode([(k, v) for k, v in items if v is not None and v != ""])
            if encoded:
                url += "?" + encoded
        return url

    def get(self, path: str, query: Query | None = None, timeout: float | None = None) -> Any:
        """GET an API path and return its decoded JSON; InvalidRequest on 400, Refused otherwise."""
        return self.get_url(self.url(path, query), timeout=timeout)

    def get_url(self, url: str, timeout: float | None = None) -> Any:
        """GET an absolute URL of this API with the token (pagination links too); `timeout` overrides the client's."""
        _, raw = send_request(self._request("GET", url), timeout=timeout or self.timeout, where=self.base_url)
        return decode_body(raw)

    def delete(self, path: str) -> None:
        """DELETE an API path (e.g. "/tokens/<id>/"); InvalidRequest on 400, Refused otherwise."""
        send_request(self._request("DELETE", self.url(path)), timeout=self.timeout, where=self.base_url)

    def _request(self, method: str, url: str) -> urllib.request.Request:
        return urllib.request.Request(url, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"flowyard-cli/{__version__}",
        })

    def post(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST JSON to an API path and return the decoded answer (control_plane.post_json's errors)."""
        return post_json(self.url(path), self.token, payload or {}, timeout=self.timeout).body

    def iterate(self, path: str, query: Query | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The items of a cursor-paginated list, following `next`; at most `limit` of them when given."""
        page_size = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
        params = [*(query.items() if isinstance(query, Mapping) else (query or ())), ("limit", page_size)]
        url: str | None = self.url(path, params)
        count = 0
        while url:
            page = self.get_url(url)
            for item in page.get("results", []):
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            url = self._next_page(path, page.get("next"))

    def _next_page(self, path: str, link: str | None) -> str | None:
        # Only the cursor query of `next` is used: the server builds its address from the Host it saw,
        # which behind a proxy may not be the address this client uses.
        if not link:
            return None
        query = urllib.parse.urlsplit(link).query
        return self.url(path) + ("?" + query if query else "")

    # -- resolving names ---------------------------------------------------------------------------------
    def project(self, slug: str) -> dict[str, Any]:
        """The project with this slug; NotFound if the caller cannot see one."""
        for project in self.iterate("/projects/", {"slug": slug}, limit=1):
            return project
        raise NotFound(f"project {slug!r} not found (it does not exist or you are not a member)")

    def workflow(self, project: dict[str, Any], name: str) -> dict[str, Any]:
        """The workflow `name` of a project; NotFound naming it otherwise."""
        for workflow in self.iterate("/workflows/", {"project": project["id"], "name": name}, limit=1):
            return workflow
        raise NotFound(f"workflow {name!r} not found in project {project['slug']!r}")

    def deployment(self, workflow: dict[str, Any], environment: str) -> dict[str, Any]:
        """The deployment of a workflow in an environment that has a version; NotFound saying where it is deployed."""
        for deployment in self.iterate("/deployments/", {"workflow": workflow["id"], "environment_name": environment}, limit=1):
            if deployment.get("version"):
                return deployment
        elsewhere = sorted(d["environment_name"] for d in self.iterate("/deployments/", {"workflow": workflow["id"]})
                           if d.get("version") and d["environment_name"] != environment)
        where = f"; it is deployed to: {', '.join(elsewhere)}" if elsewhere else "; it is not deployed anywhere yet"
        raise NotFound(f"{workflow['name']} is not deployed to {environment}{where}")

    def deployment_of(self, project_slug: str, workflow_name: str, environment: str) -> dict[str, Any]:
        """The deployment of PROJECT/WORKFLOW in `environment`, with a version; NotFound names what is missing."""
        return self.deployment(self.workflow(self.project(project_slug), workflow_name), environment)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id."""
        return self.get(f"/runs/{run_id}/")


# -- shared command-line plumbing ---------------------------------------------------------------------------

def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add --api and --token (defaults from $FLOWYARD_API_URL and $FLOWYARD_TOKEN, then `flowyard login`'s) to a command."""
    parser.add_argument("--api", metavar="URL",
                        help=f"control plane base URL (default: ${API_VARIABLE}, else the one you last signed in to "
                             "with `flowyard login`)")
    parser.add_argument("--token", metavar="TOKEN",
                        help=f"your personal token fyp_… (default: ${TOKEN_VARIABLE}, which keeps it out of `ps`, "
                             "else the token `flowyard login` stored for the control plane)")


def client_from_args(args: argparse.Namespace) -> ApiClient:
    """An ApiClient from --api/--token, the environment, or else the login `flowyard login` stored for that URL (the
    default URL's when none is given); MissingSettings names what is missing, LoginExpired an expired login."""
    api = args.api or os.environ.get(API_VARIABLE)
    token = args.token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        login = stored_login(api, from_option=bool(args.api))
        if login is not None:
            api, token = api or login.api, login.token
    missing = [f"--api (or ${API_VARIABLE})" if not api else "", f"--token (or ${TOKEN_VARIABLE})" if not token else ""]
    missing = [item for item in missing if item]
    if missing:
        hint = f"; or sign in with {login_command(api, bool(args.api))}" if not token else ""
        raise MissingSettings(f"missing {' and '.join(missing)}{hint}")
    assert api and token
    return ApiClient(api, token)


def stored_login(api: str | None, from_option: bool = False) -> Login | None:
    """The login `flowyard login` stored for `api` (for the default URL when None), or None; LoginExpired when its
    token has expired, MissingSettings naming the file and the fix when the credentials file cannot be read."""
    try:
        login = load_credentials().get(api)
    except CredentialsError as exc:
        raise MissingSettings(str(exc)) from None
    if login is not None and login.is_expired():
        raise LoginExpired(f"your login to {login.api} expired at {format_time(login.expires_at)}; "
                           f"run {login_command(login.api, from_option)}")
    return login


def login_command(api: str | None, from_option: bool) -> str:
    """The `flowyard login` command that signs in to `api` (with --api when the URL was given as an option)."""
    return f"`flowyard login --api {api}`" if api and from_option else "`flowyard login`"


def report_error(command: str, exc: Exception) -> int:
    """Print a refusal (with a 400's field problems) to stderr and return its exit code."""
    print(f"{command}: {exc}", file=sys.stderr)
    if isinstance(exc, ControlPlaneError):
        for name, problems in exc.fields.items():
            for problem in problems:
                print(f"  {name}: {problem}", file=sys.stderr)
        extra = exc.body.get("extra") if isinstance(exc.body.get("extra"), dict) else {}
        if extra.get("required_role"):
            print(f"  needs role {extra['required_role']}; yours: {extra.get('your_role') or 'none'}", file=sys.stderr)
        return exit_codes.INVALID_INPUT if isinstance(exc, InvalidRequest) else exit_codes.REFUSED
    return exit_codes.INVALID_INPUT


def state_exit_code(state: str) -> int:
    """A terminal run state as an exit code: SUCCEEDED 0, any other 1."""
    return exit_codes.OK if state == RunState.SUCCEEDED else exit_codes.INVALID_INPUT


def is_terminal(state: str) -> bool:
    """True for the five terminal run states."""
    return state in RunState.__members__ and RunState(state).is_terminal


def parse_time(value: str | None) -> datetime | None:
    """An API date-time as an aware datetime (None stays None)."""
    return datetime.fromisoformat(value) if value else None


def local_time(value: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An API date-time in this machine's timezone, or "-"."""
    moment = parse_time(value)
    return moment.astimezone().strftime(fmt) if moment else "-"


def format_duration(seconds: float | None) -> str:
    """Seconds as "850ms", "12s", "3m 05s" or "2h 01m"; "-" when unknown."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
