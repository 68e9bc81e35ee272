"""Following a run's log by long polling (`GET /api/v1/runs/{id}/logs/?after=N&wait=S`) against a live server.

The runner's batches are POSTed from another thread while a request waits, as in production: the waiting
request must see each batch once it has committed, and answer as soon as it does.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowyard_spec.states import Role
from flowyard_testkit.cli import Recorder, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = 30.0  # the longest any helper waits for something that must happen
PROMPT = 5.0  # "promptly": far below the 20 s a request is allowed to wait


# -- helpers ----------------------------------------------------------------------------------------------------

def now() -> str:
    """The current time as the runner sends it (ISO 8601, UTC)."""
    return datetime.now(timezone.utc).isoformat()


def log(seq: int, message: str, task_key: str = "t-0") -> dict:
    """A runner log event."""
    return {"type": "log", "seq": seq, "at": now(), "message": message, "task_key": task_key, "stream": "stdout"}


def run_event(state: str, **extra: Any) -> dict:
    """A runner run-state event."""
    return {"type": "run", "state": state, "at": now(), **extra}


def http(method: str, url: str, token: str, payload: dict | None = None) -> tuple[int, dict, float]:
    """One HTTP call with a bearer token: (status, decoded body, seconds it took)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json",
    })
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE + 30) as answer:
            return answer.status, json.loads(answer.read()), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), time.monotonic() - started


class Runner:
    """Reports on one run like the runner in its container: POSTs event batches with the run's token."""

    def __init__(self, api: str, run) -> None:
        from flowyard_testkit.tokens import run_token_issue

        self.url = f"{api}/api/v1/runner/runs/{run.pk}/events/"
        self.token = run_token_issue(run=run)

    def send(self, *events: dict) -> dict:
        """POST one batch; returns the control plane's reply."""
        status, body, _ = http("POST", self.url, self.token, {"events": list(events)})
        assert status == 200, body
        return body


class Later:
    """Call `action` in another thread after `delay` seconds; join() re-raises what it raised."""

    def __init__(self, action: Callable[[], Any], delay: float) -> None:
        self.done_at: float | None = None
        self._error: BaseException | None = None

        def body() -> None:
            try:
                time.sleep(delay)  # lets the request start waiting; the assertions never rely on this pause
                action()
                self.done_at = time.monotonic()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread in join()
                self._error = exc

        self._thread = threading.Thread(target=body, daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the action (at most DEADLINE s) and raise what it raised."""
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the delayed action did not finish"
        if self._error is not None:
            raise self._error


@pytest.fixture
def api(live_server) -> str:
    """The live control plane's address."""
    return live_server.url


@pytest.fixture
def token(tenant_a) -> Callable[..., str]:
    """`token(user)`: a fresh personal token of `user`."""
    from controlplane.tenancy.services import personal_token_create

    return lambda user: personal_token_create(actor=user, name="follow")[1]


@pytest.fixture
def logs(api, token, tenant_a) -> Callable[..., tuple[int, dict, float]]:
    """`logs(run, user=viewer, **query)`: GET the run's log page as `user`: (status, body, seconds)."""
    viewer = token(tenant_a.users[Role.VIEWER])

    def get(run, user_token: str | None = None, **query: Any) -> tuple[int, dict, float]:
        """GET /runs/{id}/logs/ with `query`."""
        url = f"{api}/api/v1/runs/{run.pk}/logs/?{urllib.parse.urlencode(query)}"
        return http("GET", url, user_token or viewer)

    return get


def seqs(page: dict) -> list[int]:
    """The sequence numbers of a page's lines."""
    return [line["seq"] for line in page["lines"]]


def end_run(run, state: str = "SUCCEEDED") -> None:
    """Put a run in a terminal state directly (setup only, before any request)."""
    from controlplane.runs.models import Run

    Run.objects.filter(pk=run.pk).update(state=state)


# -- waiting ----------------------------------------------------------------------------------------------------

def test_a_waiting_request_answers_as_soon_as_a_line_arrives_with_exactly_the_new_lines(tenant_a, api, logs):
    runner = Runner(api, tenant_a.run)
    asked = time.monotonic()
    batch = Later(lambda: runner.send(run_event("RUNNING"), log(4, "four"), log(5, "five")), delay=0.5)
    status, page, took = logs(tenant_a.run, after=3, wait=20)
    batch.join()
    assert status == 200, page
    assert batch.done_at is not None and batch.done_at > asked  # the lines were stored while it waited
    assert took < PROMPT
    assert seqs(page) == [4, 5] and [line["message"] for line in page["lines"]] == ["four", "five"]
    assert page["next_after"] == 5 and page["run_state"] == "RUNNING" and page["done"] is False


def test_lines_already_there_are_returned_at_once(tenant_a, logs):
    status, page, took = logs(tenant_a.run, after=1, wait=20)
    assert status == 200 and took < PROMPT
    assert seqs(page) == [2, 3] and page["next_after"] == 3
    assert page["run_state"] == "QUEUED" and page["done"] is False


def test_the_end_of_the_run_ends_the_wait_with_done(tenant_a, api, logs):
    runner = Runner(api, tenant_a.run)
    runner.send(run_event("RUNNING"))
    end = Later(lambda: runner.send(run_event("FAILED", reason="user_error")), delay=0.5)
    status, page, took = logs(tenant_a.run, after=3, wait=20)
    end.join()
    assert status == 200 and took < PROMPT
    assert page == {"lines": [], "next_after": 3, "run_state": "FAILED", "done": True}


def test_a_wait_with_nothing_new_ends_after_its_time_and_is_not_done(tenant_a, logs):
    status, page, took = logs(tenant_a.run, after=3, wait=1)
    assert status == 200
    assert 0.9 <= took < PROMPT
    assert page == {"lines": [], "next_after": 3, "run_state": "QUEUED", "done": False}


def test_a_terminal_run_with_nothing_left_answers_at_once_with_done(tenant_a, logs):
    end_run(tenant_a.run, "SUCCEEDED")
    status, page, took = logs(tenant_a.run, after=3, wait=30)
    assert status == 200 and took < PROMPT
    assert page == {"lines": [], "next_after": 3, "run_state": "SUCCEEDED", "done": True}

    # a page that does not hold every line left is not done; the one that holds the last line is
    status, page, _ = logs(tenant_a.run, after=0, limit=2, wait=30)
    assert seqs(page) == [1, 2] and page["done"] is False
    status, page, took = logs(tenant_a.run, after=2, limit=2, wait=30)
    assert seqs(page) == [3] and page["done"] is True and took < PROMPT


def test_without_wait_the_answer_is_immediate_as_before(tenant_a, logs):
    status, page, took = logs(tenant_a.run, after=3)
    assert status == 200 and took < PROMPT
    assert page == {"lines": [], "next_after": 3, "run_state": "QUEUED", "done": False}


def test_following_with_long_polls_sees_every_line_once_in_few_requests(tenant_a, api, logs):
    runner = Runner(api, tenant_a.run)
    seen: list[int] = []
    requests = 0

    batches = [
        [run_event("RUNNING"), log(4, "a"), log(5, "b")],
        [log(6, "c")],
        [log(7, "d"), log(8, "e"), log(9, "f")],
        [log(10, "g"), run_event("SUCCEEDED")],  # the last line and the end in one batch
    ]
    sender_error: list[BaseException] = []

    def send_all() -> None:
        try:
            for batch in batches:
                last = max(event.get("seq", 0) for event in batch) or None
                runner.send(*batch)
                if last:
                    wait_until(lambda: last in seen, what=f"line {last} followed")
        except BaseException as exc:  # noqa: BLE001
            sender_error.append(exc)

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    after, deadline = 0, time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        status, page, _ = logs(tenant_a.run, after=after, wait=20)
        requests += 1
        assert status == 200, page
        seen.extend(seqs(page))
        after = page["next_after"]
        if page["done"]:
            break
    sender.join(DEADLINE)
    assert not sender_error, sender_error
    assert seen == list(range(1, 11))
    assert page["run_state"] == "SUCCEEDED"
    # one answer per batch at most, plus the backlog and possibly one last `done` page: no polling in between
    assert requests <= len(batches) + 2


# -- input and access -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wait", ["31", "30.5", "-1", "soon", "nan", "inf"])
def test_a_wait_out_of_range_is_a_400_naming_wait(tenant_a, logs, wait):
    status, body, took = logs(tenant_a.run, after=3, wait=wait)
    assert status == 400, body
    assert body["code"] == "invalid" and list(body["extra"]["fields"]) == ["wait"]
    assert "wait" in body["message"]
    assert took < PROMPT


def test_the_longest_wait_is_accepted(tenant_a, logs):
    status, page, _ = logs(tenant_a.run, after=0, wait=30)  # lines are there: it answers at once
    assert status == 200 and seqs(page) == [1, 2, 3]


def test_a_viewer_can_follow_and_another_teams_user_gets_404_at_once(tenant_a, tenant_b, api, logs, token):
    runner = Runner(api, tenant_a.run)
    line = Later(lambda: runner.send(log(4, "for the viewer")), delay=0.3)
    status, page, took = logs(tenant_a.run, user_token=token(tenant_a.users[Role.VIEWER]), after=3, wait=20)
    line.join()
    assert status == 200 and seqs(page) == [4] and took < PROMPT

    for user in (tenant_b.users[Role.ADMIN], tenant_b.users[Role.VIEWER]):
        status, body, took = logs(tenant_a.run, user_token=token(user), after=4, wait=20)
        assert status == 404, body
        assert took < PROMPT  # refused before any waiting
    status, _, _ = logs(tenant_a.run, user_token="fyp_not-a-token", after=4, wait=20)
    assert status == 401


# -- how the server waits ---------------------------------------------------------------------------------------

def test_a_wait_asks_the_database_every_fifth_of_a_second_with_two_small_queries(tenant_a):
    from controlplane.runs import follow
    from controlplane.runs.models import Run, RunLogLine

    run = Run.objects.get(pk=tenant_a.run.pk)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        """Instead of sleeping: count, and store a line on the third nap."""
        naps.append(seconds)
        if len(naps) == 3:
            RunLogLine.objects.create(run=run, seq=4, at=datetime.now(timezone.utc), message="late")

    with CaptureQueriesContext(connection) as queries:
        page = follow.log_page(run=run, after=3, wait=20, sleep=nap)
    assert naps == [follow.POLL_SECONDS] * 3
    assert [line.seq for line in page.lines] == [4] and page.next_after == 4 and page.done is False
    selects = [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 + 3 * 2  # the first look, then per poll: the run's state and the lines after the cursor


def test_a_wait_never_outlasts_its_time(tenant_a):
    from controlplane.runs import follow
    from controlplane.runs.models import Run

    naps: list[float] = []
    started = time.monotonic()
    page = follow.log_page(run=Run.objects.get(pk=tenant_a.run.pk), after=3, wait=0.5,
                           sleep=lambda seconds: (naps.append(seconds), time.sleep(seconds)))
    took = time.monotonic() - started
    assert page.lines == [] and page.done is False
    assert 0.5 <= took < 1.5  # never past its wait by more than the last poll's queries
    assert len(naps) >= 3 and all(0 < nap <= follow.POLL_SECONDS for nap in naps)


def test_a_wait_is_capped_at_thirty_seconds(tenant_a, monkeypatch):
    from types import SimpleNamespace

    from controlplane.runs import follow
    from controlplane.runs.models import Run

    clock = [1000.0]

    def nap(seconds: float) -> None:
        """Advance a fake clock instead of sleeping."""
        clock[0] += seconds

    monkeypatch.setattr(follow, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    page = follow.log_page(run=Run.objects.get(pk=tenant_a.run.pk), after=3, wait=3600, sleep=nap)
    assert page.lines == [] and not page.done
    assert clock[0] - 1000.0 == pytest.approx(follow.MAX_WAIT_SECONDS)


# -- the command line -------------------------------------------------------------------------------------------


def test_the_cli_follows_with_long_polls_and_prints_every_line_once(tenant_a, api, token, monkeypatch):
    from flowyard_builder import api_client
    from flowyard_builder.cli import main
    from flowyard_builder.follow import FOLLOW_WAIT_SECONDS

    log_requests: list[dict[str, list[str]]] = []
    original = api_client.ApiClient.get_url

    def counting_get_url(self, url: str, timeout: float | None = None):
        """Record each log request's query, then make it."""
        if "/logs/" in url:
            log_requests.append(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query))
        return original(self, url, timeout=timeout)

    monkeypatch.setattr(api_client.ApiClient, "get_url", counting_get_url)
    monkeypatch.setenv("FLOWYARD_API_URL", api)
    monkeypatch.setenv("FLOWYARD_TOKEN", token(tenant_a.users[Role.VIEWER]))
    out, err = Recorder(), Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    runner = Runner(api, tenant_a.run)
    outcome: dict = {}
    follower = threading.Thread(
        target=lambda: outcome.setdefault("code", main(["runs", "logs", str(tenant_a.run.pk), "--follow"])),
        daemon=True,
    )
    follower.start()
    batches = [
        [run_event("RUNNING"), log(4, "m4"), log(5, "m5")],
        [log(6, "m6")],
        [log(7, "m7"), log(8, "m8"), log(9, "m9"), run_event("SUCCEEDED")],
    ]
    try:
        wait_until(lambda: len(out.lines()) == 3, what="the stored lines")
        for batch in batches:
            runner.send(*batch)
            last = f"m{max(event.get('seq', 0) for event in batch)}"
            wait_until(lambda: any(line.endswith(last) for line in out.lines()), what=f"{last} printed")
        follower.join(DEADLINE)
    finally:
        if follower.is_alive():  # never leave the follower waiting on a run that cannot end
            runner.send(run_event("FAILED", reason="user_error"))
            follower.join(DEADLINE)
    assert outcome["code"] == 0
    assert [line.split(" ", 2)[2] for line in out.lines()] == [
        "alpha line 1", "alpha line 2", "alpha line 3", *(f"m{seq}" for seq in range(4, 10))
    ]
    assert f"run {tenant_a.run.pk} SUCCEEDED" in err.text()
    assert all(query["wait"] == [str(FOLLOW_WAIT_SECONDS)] for query in log_requests)
    assert len(log_requests) <= len(batches) + 2  # no polling between lines: each request waited for one
