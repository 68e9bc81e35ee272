"""What every forge client shares: the commit states, the errors, the checks of what we send, and HTTP that keeps
the token out of every message and off every other host.

Pure HTTP over `requests`: nothing here knows Django or the rest of the control plane.
"""

from __future__ import annotations

import email.utils
import re
import time
from abc import ABC, abstractmethod
from datetime import UTC
from enum import StrEnum
from importlib import metadata
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase

REPOSITORY_SEGMENT = r"[A-Za-z0-9_.-]+"
REPOSITORY_PATTERN = re.compile(rf"{REPOSITORY_SEGMENT}(?:/{REPOSITORY_SEGMENT})+")
SHA_PATTERN = re.compile(r"[0-9a-fA-F]{7,64}")
COMMENT_ID_PATTERN = re.compile(r"[0-9]{1,20}")
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: no space, newline or control character to smuggle
MAX_REDIRECTS = 3
FOLLOWED_REDIRECTS = frozenset({307, 308})  # the ones that keep the method and the body
ERROR_DETAIL_LIMIT = 200


def _user_agent() -> str:
    try:
        version = metadata.version("flowyard")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"flowyard-controlplane/{version}"


USER_AGENT = _user_agent()


class CommitState(StrEnum):
    """The state of a commit status, in our words (each forge client maps it to the forge's)."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class ForgeError(Exception):
    """A forge did not do what we asked; the message names the request, never the token."""


class ForgeUnavailable(ForgeError):
    """Connection error, timeout, 5xx or rate limit (429): worth retrying later, after `retry_after` s if known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForgeRefused(ForgeError):
    """A 4xx answer other than a rate limit: retrying will not help (bad token, unknown repository)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class _HeaderAuth(AuthBase):
    """Puts the token's headers on a request; passing it as `auth` also stops requests from using ~/.netrc."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._headers)
        return request

    def __repr__(self) -> str:
        return "_HeaderAuth(<hidden>)"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, moment.timestamp() - current)


def truncated(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start ending with an ellipsis, `limit` characters long."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _validated_api_url(api_url: str) -> str:
    parts = urlsplit(api_url) if isinstance(api_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the forge API URL must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the forge API URL must not carry credentials (the token is given on its own)")
    if parts.query or parts.fragment:
        raise ValueError("the forge API URL must not have a query or a fragment")
    return api_url.rstrip("/")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class ForgeClient(ABC):
    """A forge's REST API as the control plane uses it: commit statuses and one kept-up-to-date comment per merge
    request. Not thread-safe (one `requests.Session`): give each thread its own client."""

    forge_name: ClassVar[str]
    description_limit: ClassVar[int]
    nested_groups: ClassVar[bool] = False  # whether `repository` may have more than one slash (GitLab's subgroups)

    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.api_url = _validated_api_url(api_url)
        if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
            raise ValueError(f"the {self.forge_name} token is empty or has spaces or control characters")
        self._token = token
        self.timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.api_url!r})"

    def __enter__(self) -> ForgeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if this client made it (a session passed in stays the caller's)."""
        if self._owns_session:
            self._session.close()

    def set_commit_status(self, *, repository: str, sha: str, context: str, state: CommitState,
                          description: str, target_url: str = "") -> None:
        """Set the status named `context` of commit `sha` (the description is cut to the forge's limit)."""
        self.check_repository(repository)
        sha = self.check_sha(sha)
        if not isinstance(context, str) or not context.strip():
            raise ValueError("a commit status needs a context (its name on the forge)")
        state = CommitState(state)
        self._send_commit_status(repository=repository, sha=sha, context=context, state=state,
                                 description=truncated(description or "", self.description_limit),
                                 target_url=target_url or "")

    def upsert_comment(self, *, repository: str, merge_request: int, body: str, comment_id: str | None = None) -> str:
        """Create the merge request's comment, or update comment `comment_id` in place; the comment's id. If the
        comment was deleted on the forge (404 on update), create a new one."""
        self.check_repository(repository)
        if isinstance(merge_request, bool) or not isinstance(merge_request, int) or merge_request <= 0:
            raise ValueError("a merge request number is a positive integer")
        if not isinstance(body, str) or not body.strip():
            raise ValueError("a comment needs a body")
        if comment_id is not None:
            comment_id = self.check_comment_id(comment_id)
            try:
                self._update_comment(repository=repository, merge_request=merge_request, comment_id=comment_id,
                                     body=body)
                return comment_id
            except ForgeRefused as refused:
                if refused.status != 404:
                    raise
        return self._create_comment(repository=repository, merge_request=merge_request, body=body)

    def check_repository(self, repository: str) -> None:
        """Raise ValueError unless `repository` is a plain `owner/name` path (a forge path, nothing to traverse)."""
        if (not isinstance(repository, str) or not REPOSITORY_PATTERN.fullmatch(repository) or ".." in repository
                or "." in repository.split("/")
                or (not self.nested_groups and repository.count("/") != 1)):
            shape = "group/…/name" if self.nested_groups else "owner/name"
            raise ValueError(f"a {self.forge_name} repository is written {shape} (letters, digits, '.', '_', '-')")

    @staticmethod
    def check_sha(sha: str) -> str:
        """The commit id in lower case; ValueError unless it is 7 to 64 hexadecimal digits."""
        if not isinstance(sha, str) or not SHA_PATTERN.fullmatch(sha):
            raise ValueError("a commit sha is 7 to 64 hexadecimal digits")
        return sha.lower()

    @staticmethod
    def check_comment_id(comment_id: str | int) -> str:
        """The comment id as a string; ValueError unless it is a decimal number."""
        if isinstance(comment_id, bool) or not COMMENT_ID_PATTERN.fullmatch(str(comment_id)):
            raise ValueError("a comment id is a decimal number")
        return str(comment_id)

    @abstractmethod
    def _send_commit_status(self, *, repository: str, sha: str, context: str, state: CommitState,
                            description: str, target_url: str) -> None:
        """Send an already checked commit status."""

    @abstractmethod
    def _create_comment(self, *, repository: str, merge_request: int, body: str) -> str:
        """Create a comment on the merge request; its id."""

    @abstractmethod
    def _update_comment(self, *, repository: str, merge_request: int, comment_id: str, body: str) -> None:
        """Replace the body of comment `comment_id` (ForgeRefused with status 404 if it is gone)."""

    @abstractmethod
    def _auth_headers(self, token: str) -> dict[str, str]:
        """The headers that carry the token."""

    def _headers(self) -> dict[str, str]:
        """The headers of every request but the token's."""
        return {"User-Agent": USER_AGENT, "Accept": "application/json"}

    def _is_rate_limited(self, response: requests.Response) -> bool:
        """Whether a 4xx answer other than 429 is still the forge's rate limit (GitHub answers some with 403)."""
        return False

    def _retry_after(self, response: requests.Response) -> float | None:
        """How long the forge asks us to wait, in seconds, if it says."""
        return parse_retry_after(response.headers.get("Retry-After"))

    def _request(self, method: str, path: str, payload: dict[str, Any]) -> requests.Response:
        """Send `payload` as JSON to `path` (below the API URL); the 2xx response, or the matching ForgeError."""
        url = self.api_url + path
        shown_path = urlsplit(url).path
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, shown_path, payload)
            if response.status_code not in FOLLOWED_REDIRECTS:
                break
            location = urljoin(url, response.headers.get("Location", ""))
            if _origin(location) != _origin(self.api_url):  # the token's headers go to the forge's host only
                break
            url = location
        self._raise_for_status(method, shown_path, response)
        return response

    def _send(self, method: str, url: str, shown_path: str, payload: dict[str, Any]) -> requests.Response:
        """One HTTP exchange, connection problems turned into ForgeUnavailable."""
        try:
            return self._session.request(method, url, json=payload, headers=self._headers(),
                                         auth=_HeaderAuth(self._auth_headers(self._token)),
                                         timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            raise ForgeUnavailable(f"{self._where()} did not answer {method} {shown_path} "
                                   f"within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            reason = self._redacted(str(exc))[:ERROR_DETAIL_LIMIT]
            raise ForgeUnavailable(f"{self._where()} could not be reached for {method} {shown_path}: "
                                   f"{type(exc).__name__}: {reason}") from exc

    def _raise_for_status(self, method: str, shown_path: str, response: requests.Response) -> None:
        """Nothing for a 2xx answer; else ForgeUnavailable (5xx, rate limit) or ForgeRefused (the rest)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        message = (f"{self._where()} answered {method} {shown_path} with {status} {response.reason or ''}".rstrip()
                   + self._error_detail(response))
        if status == 429 or status >= 500 or (400 <= status < 500 and self._is_rate_limited(response)):
            raise ForgeUnavailable(message, retry_after=self._retry_after(response))
        if 300 <= status < 400:
            message += " (a redirect to another host or one that changes the method is not followed)"
        raise ForgeRefused(message, status=status)

    def _error_detail(self, response: requests.Response) -> str:
        """': <the forge's message>' from a JSON error body, shortened and without the token; '' if none."""
        message = self._json_field(response, "message") or self._json_field(response, "error")
        if not message:
            return ""
        return ": " + truncated(self._redacted(str(message)), ERROR_DETAIL_LIMIT)

    @staticmethod
    def _json_field(response: requests.Response, field: str) -> Any:
        """A top-level field of the response's JSON object, or None."""
        try:
            data = response.json()
        except ValueError:
            return None
        return data.get(field) if isinstance(data, dict) else None

    def _comment_id_of(self, response: requests.Response, method: str, path: str) -> str:
        """The `id` of the comment a 2xx answer describes (ForgeUnavailable if the answer has none)."""
        comment_id = self._json_field(response, "id")
        if isinstance(comment_id, bool) or not isinstance(comment_id, int | str) or \
                not COMMENT_ID_PATTERN.fullmatch(str(comment_id)):
            raise ForgeUnavailable(f"{self._where()} answered {method} {urlsplit(self.api_url + path).path} "
                                   f"with {response.status_code} but no comment id")
        return str(comment_id)

    def _where(self) -> str:
        """'GitLab at host[:port]' for messages (the API URL has no credentials: checked on construction)."""
        return f"{self.forge_name} at {urlsplit(self.api_url).netloc}"

    def _redacted(self, text: str) -> str:
        """`text` with the token, should a forge or a library ever echo it, replaced."""
        return text.replace(self._token, "[token]")
