"""The runs pages at scale: 100,000 runs and a run with 100,000 log lines, rendered server-side through the Django
test client (middleware, session, selectors, templates; no network). Target: the runs page within 300 ms (median).

Run by `make bench`, or alone with `.venv/bin/pytest tests/benchmarks/test_portal_pages.py -q -s`.
"""

from __future__ import annotations

import datetime
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlplane.runs.models import Run, RunLogLine, TaskRun
from flowyard_spec.states import Role, RunReason, RunState, TaskState, TriggerKind
from flowyard_testkit.tenants import build_tenant

pytestmark = pytest.mark.django_db
RUNS = 100_000
LOG_LINES = 100_000
REPEAT = 7
RUNS_PAGE_TARGET_MS = 300
BATCH = 5_000
# A realistic mix: mostly successes, some failures, a few live runs.
STATES = [RunState.SUCCEEDED] * 90 + [RunState.FAILED] * 6 + [RunState.CRASHED, RunState.CANCELLED, RunState.RUNNING,
                                                                 RunState.QUEUED]
TRIGGERS = [TriggerKind.SCHEDULE] * 8 + [TriggerKind.MANUAL, TriggerKind.API]


@contextmanager
def creation_times_as_given() -> Iterator[None]:
    """Let bulk_create keep the created_at each run is given (auto_now_add would stamp them all "now")."""
    field = Run._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def insert_runs(tenant) -> None:
    """RUNS runs over three deployments, one every 90 s back from now, in batches."""
    deployments = [tenant.test_deployment, tenant.production_deployment, tenant.report_test_deployment]
    now = timezone.now()
    with creation_times_as_given():
        for first in range(0, RUNS, BATCH):
            batch = []
            for number in range(first, min(first + BATCH, RUNS)):
                deployment, state = deployments[number % 3], STATES[number % len(STATES)]
                created = now - datetime.timedelta(seconds=90 * (number + 1))
                batch.append(Run(
                    deployment=deployment, version=deployment.version, state=state, trigger=TRIGGERS[number % 10],
                    reason=RunReason.USER_ERROR if state == RunState.FAILED else "", created_at=created,
                    started_at=created + datetime.timedelta(seconds=3),
                    ended_at=None if state in (RunState.RUNNING, RunState.QUEUED) else created + datetime.timedelta(seconds=40),
                    triggered_by_label="scheduler" if number % 10 < 8 else "ada", parameters={"day": "2026-01-01"},
                ))
            Run.objects.bulk_create(batch)


def insert_log_lines(run: Run) -> None:
    """LOG_LINES lines for `run` (after its three), with an error near the end and a few task runs."""
    at = timezone.now()
    for first in range(4, LOG_LINES + 4, BATCH):
        RunLogLine.objects.bulk_create(
            RunLogLine(run=run, seq=seq, at=at, task_key=f"extract-{seq % 8}", level="ERROR" if seq == LOG_LINES - 10 else "INFO",
                       message=f"processed chunk {seq} of the input, 1000 rows, checksum {seq * 7919 % 100003}")
            for seq in range(first, min(first + BATCH, LOG_LINES + 4))
        )
    start = at - datetime.timedelta(minutes=5)
    TaskRun.objects.bulk_create(
        TaskRun(run=run, task_key=f"extract-{index}", name="extract", state=TaskState.SUCCEEDED, map_index=index,
                started_at=start + datetime.timedelta(seconds=index), ended_at=start + datetime.timedelta(seconds=60 + index))
        for index in range(1, 8)
    )
    TaskRun.objects.create(run=run, task_key="load-0", name="load", state=TaskState.RUNNING, started_at=at,
                           upstream_keys=[f"extract-{index}" for index in range(8)])


def timed(client: Client, url: str, check: Callable[[bytes], None]) -> tuple[float, float, int]:
    """(min ms, median ms, queries) of REPEAT GETs of `url` (after one warm-up), each body read whole."""
    check(b"".join(client.get(url).streaming_content) if url.endswith(".txt") else client.get(url).content)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    check(body)
    return min(times), statistics.median(times), len(captured)


def test_runs_pages_at_100k_runs_and_100k_log_lines():
    tenant = build_tenant("bench")
    started = time.perf_counter()
    insert_runs(tenant)
    insert_log_lines(tenant.run)
    print(f"\ninserted {RUNS:,} runs and {LOG_LINES:,} log lines in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(tenant.users[Role.VIEWER])

    def fifty_rows(body: bytes) -> None:
        assert body.count(b"<tr data-run=") == 50

    second_page = re.search(rb'href="\?([^"]+)" data-testid="next-page"', client.get("/runs/").content).group(1).decode()
    run_page = f"/runs/{tenant.run.pk}/"
    cases = [
        ("runs page", "/runs/", fifty_rows),
        ("runs page 2 (cursor)", "/runs/?" + second_page.replace("&amp;", "&"), fifty_rows),
        ("runs, state=FAILED", "/runs/?state=FAILED", fifty_rows),
        ("runs, environment=production", "/runs/?environment=production", fifty_rows),
        ("runs, trigger=api, last 30 days", "/runs/?trigger=api&from="
         + (timezone.now() - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"), fifty_rows),
        ("run detail (last 500 of 100k lines)", run_page, lambda body: body.count(b'<li id="line-') == 500 or None),
        ("log.json tail (after the last 500)", f"{run_page}log.json?after={LOG_LINES - 497}", lambda body: None),
        ("log.txt (100k lines)", f"{run_page}log.txt", lambda body: body.count(b"\n") == LOG_LINES + 3 or None),
    ]
    results = {}
    for name, url, check in cases:
        fastest, median, queries = timed(client, url, check)
        results[name] = median
        print(f"{name:38} min {fastest:8.1f} ms   median {median:8.1f} ms   {queries} queries")
    assert results["runs page"] <= RUNS_PAGE_TARGET_MS
    assert results["runs page 2 (cursor)"] <= RUNS_PAGE_TARGET_MS
