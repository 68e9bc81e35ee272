"""Event and log ingestion at the control plane (issue 17, B6): task events/s, log lines/s and database transactions
per task, through the runner endpoint `POST /api/v1/runner/runs/<pk>/events/` of a live server.

Several runs report at once (FLOWYARD_BENCH_INGEST_RUNS, default 6), each from a process of its own with its own
run token, sending with the SDK's client (`flowyard.reporting.client.post_events`) batches of the SDK Reporter's
largest size (`MAX_EVENTS_PER_BATCH`, 1000 events) one after another, each waiting for the answer as the
Reporter does:
- task events: 6,000 mapped tasks per run; each batch carries SUCCEEDED for the 500 tasks of the previous batch and
  RUNNING for 500 new ones (a task's two events always arrive in two batches: a created row, then an updated one),
  with the run's RUNNING in the first batch and its SUCCEEDED in the last;
- log lines: 20,000 stdout lines per run (about 90 characters each, seq 1, 2, 3, …), masked against the
  environment's three secrets; one line in 500 carries a secret.
The rate is everything sent divided by the time from the first batch's request to the last batch's answer.

Transactions: PostgreSQL's own count of commits in the test database, `pg_stat_get_db_xact_commit`, read before and
after the task-event phase and divided by the tasks whose RUNNING and SUCCEEDED were stored. It counts every
transaction of every session of the database, each statement run in autocommit (the token lookup, the last log
seq) as one, including what the ORM does not see (a new connection's set-up). The counters are updated
asynchronously: a backend adds its commits to the shared counters when it goes idle (at most once a second) and
always when it exits, before it leaves pg_stat_activity. So the count is read only when no other session is
connected to the database (the live server closes its connection after every request, the test closes its own
first), from one open read-only transaction on a connection of its own (so its reads commit nothing), with
`pg_stat_clear_snapshot()` before each read (otherwise a transaction sees the values of its first read). An
autovacuum worker's transactions in that window would be counted too: the count is an upper bound.

Checked, so that a broken run cannot look fast: every request answered 200, every log batch's answer names its last
seq, every run ends SUCCEEDED, the stored TaskRun rows (SUCCEEDED, with start and end) and RunLogLine rows (seq 1 to
the last with no gap, the secret lines masked) are exactly what was sent.

What is measured is pytest-django's `live_server`: Django's threaded WSGI server, one process (one GIL), a thread and
a new database connection per request, in the pytest process, on a 2-CPU machine that also runs the posters. A
production deployment runs several processes with persistent connections.

Targets: ≥ 2,000 events/s, ≥ 10,000 log lines/s, ≤ 2 transactions per task. Prints the table and writes it into
docs/benchmarks.md between its "ingestion" markers. On PostgreSQL only (`make bench` uses it), e.g.:

    FLOWYARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowyard_bench \\
      .venv/bin/pytest tests/benchmarks/test_ingestion.py -q -s
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from flowyard_spec.api import MAX_EVENTS_PER_BATCH as BATCH  # the Reporter's largest batch, 1000 events

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("FLOWYARD_BENCH_INGEST_RUNS", "6"))
TASKS_PER_RUN, LINES_PER_RUN = 6000, 20000
SECRETS = {"DB_PASSWORD": "pg-7Hk2q9Zr-pass", "API_TOKEN": "tok_4f9a1c2e8b7d", "S3_KEY": "AKIA-bench-3x9q"}
SECRET_EVERY = 500  # one log line in this many prints a secret
TARGET_EVENTS, TARGET_LINES, TARGET_TX_PER_TASK = 2000, 10000, 2.0
COMMAND = ("FLOWYARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowyard_bench "
           ".venv/bin/pytest tests/benchmarks/test_ingestion.py -q -s")


def iso(moment: datetime.datetime) -> str:
    """A time as the SDK writes it (ISO 8601 with the timezone)."""
    return moment.isoformat()


def task_batches(started: datetime.datetime) -> list[list[dict]]:
    """One run's task events as the Reporter would batch them: SUCCEEDED of the previous 500 tasks, RUNNING of 500."""
    def event(index: int, state: str, milliseconds: int) -> dict:
        """A mapped task's event, as the SDK's sink writes it."""
        return {"type": "task", "task_key": f"transform-{index}", "name": "transform", "state": state,
                "at": iso(started + datetime.timedelta(milliseconds=milliseconds)), "attempt": 1, "map_index": index}

    half = BATCH // 2
    batches = [[*(event(index, "SUCCEEDED", index + 5) for index in range(max(0, first - half), first)),
                *(event(index, "RUNNING", index) for index in range(first, min(first + half, TASKS_PER_RUN)))]
               for first in range(0, TASKS_PER_RUN + half, half)]
    batches[0].insert(0, {"type": "run", "state": "RUNNING", "at": iso(started)})
    batches[-1].append({"type": "run", "state": "SUCCEEDED", "at": iso(started + datetime.timedelta(seconds=5))})
    assert all(len(batch) <= BATCH for batch in batches)
    return batches


def log_batches(started: datetime.datetime) -> list[list[dict]]:
    """One run's events in batches of 1000, as the Reporter takes them: RUNNING, log lines seq 1…N, SUCCEEDED."""
    secrets = list(SECRETS.values())
    events = [{"type": "run", "state": "RUNNING", "at": iso(started)}]
    for seq in range(1, LINES_PER_RUN + 1):
        message = (f"2026-12-05 10:00:00,000 INFO transform: partition {seq:05d} of {LINES_PER_RUN}: "
                   f"4096 rows read, 4090 written, 6 rejected")
        if seq % SECRET_EVERY == 0:
            message = f"connecting with password={secrets[seq // SECRET_EVERY % len(secrets)]} to the warehouse"
        events.append({"type": "log", "seq": seq, "at": iso(started + datetime.timedelta(microseconds=seq * 50)),
                       "message": message, "stream": "stdout", "task_key": f"transform-{seq % 100}"})
    events.append({"type": "run", "state": "SUCCEEDED", "at": iso(started + datetime.timedelta(seconds=5))})
    return [events[first:first + BATCH] for first in range(0, len(events), BATCH)]


def post_batches(batches_file: str, url: str, token: str) -> None:
    """The poster process: load the batches, say `ready`, wait for `go`, send them in order and print the times."""
    from flowyard.reporting.client import post_events

    batches = json.loads(Path(batches_file).read_text())
    print("ready", flush=True)
    sys.stdin.readline()
    sent = []
    for batch in batches:
        began = time.monotonic()
        status, reply, text = post_events(url, token, batch, timeout=300)
        ended = time.monotonic()
        if status != 200 or reply is None:
            print(json.dumps({"error": f"HTTP {status}: {text[:2000]}"}), flush=True)
            sys.exit(1)
        sent.append([began, ended, reply["last_log_seq"], reply["run_state"]])
    print(json.dumps({"sent": sent}), flush=True)


class Commits:
    """Reads PostgreSQL's count of committed transactions in the test database (see the module's docstring)."""

    def __init__(self, settings: dict) -> None:
        import psycopg

        self.connection = psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                                          port=settings["PORT"] or 5432, password=settings["PASSWORD"] or None,
                                          autocommit=False)  # one transaction, never committed

    def _value(self, sql: str) -> int:
        """One number from the statistics, read afresh."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(sql)
            return cursor.fetchone()[0]

    def read(self) -> int:
        """The database's commits so far, once every other session of it has exited (and so flushed its counts)."""
        from flowyard_testkit.platform import wait_until

        wait_until(lambda: self._value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()") == 0,
                   timeout=60, every=0.02, what="every other session of the test database to exit")
        return self._value("SELECT pg_stat_get_db_xact_commit(oid) FROM pg_database "
                           "WHERE datname = current_database()")

    def close(self) -> None:
        """End the reading transaction (a rollback: nothing to count) and the connection."""
        self.connection.rollback()
        self.connection.close()


@dataclass
class Phase:
    """What one phase sent and how long it took."""

    events: int
    batches: int
    seconds: float
    latencies: list[float]
    commits: int
    replies: list[list[list]]  # per run, per batch: [began, ended, last_log_seq, run_state]

    @property
    def rate(self) -> float:
        """Events (or lines) per second over the phase."""
        return self.events / self.seconds


def ingest(url: str, runs: list[tuple[str, str, list[list[dict]]]], counted: int, commits: Commits,
           folder: Path) -> Phase:
    """Post every run's batches from a process per run, all started together; time it and count the commits."""
    from django.db import connections

    posters = []
    for number, (run_id, token, batches) in enumerate(runs):
        batches_file = folder / f"batches-{number}.json"
        batches_file.write_text(json.dumps(batches))
        posters.append(subprocess.Popen(
            [sys.executable, __file__, str(batches_file), f"{url}/api/v1/runner/runs/{run_id}/events/", token],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT))
    try:
        for poster in posters:
            assert poster.stdout.readline().strip() == "ready", "a poster died while loading its batches"
        connections.close_all()  # this thread's session would flush its counts at any time: end it first
        before = commits.read()
        for poster in posters:
            poster.stdin.write("go\n")
            poster.stdin.flush()
        outputs = [poster.communicate(timeout=900)[0] for poster in posters]
        after = commits.read()
    finally:
        for poster in posters:
            if poster.poll() is None:
                poster.kill()
    results = [json.loads((output.strip().splitlines() or ["{}"])[-1]) for output in outputs]
    assert all("sent" in result for result in results), [result.get("error") for result in results]
    replies = [result["sent"] for result in results]
    first = min(sent[0][0] for sent in replies)
    last = max(sent[-1][1] for sent in replies)
    latencies = [ended - began for sent in replies for began, ended, *_ in sent]
    return Phase(counted, len(latencies), last - first, latencies, after - before, replies)


def new_runs(tenant, number: int, make_batches) -> list[tuple[str, str, list[list[dict]]]]:
    """`number` queued runs of the tenant's test deployment, each with a run token and its batches."""
    from controlplane.runs import services as runs
    from flowyard_spec.states import Role
    from flowyard_testkit.tokens import run_token_issue

    made = []
    for _ in range(number):
        run = runs.run_trigger(actor=tenant.users[Role.DEVELOPER], deployment=tenant.test_deployment, parameters={})
        made.append((str(run.pk), run_token_issue(run=run), make_batches(datetime.datetime.now(datetime.UTC))))
    return made


def warm_up(url: str, tenant) -> None:
    """One heartbeat through the endpoint first, so that the server's first-request imports are not timed."""
    from flowyard.events import now_iso
    from flowyard.reporting.client import post_events

    run_id, token, _ = new_runs(tenant, 1, lambda started: [])[0]
    status, _, text = post_events(f"{url}/api/v1/runner/runs/{run_id}/events/", token,
                                  [{"type": "heartbeat", "at": now_iso()}], timeout=60)
    assert status == 200, text


def check_tasks(runs: list[tuple[str, str, list]], phase: Phase) -> None:
    """Every run SUCCEEDED, and every task stored once, SUCCEEDED, with its start and end."""
    from django.db.models import F

    from controlplane.runs.models import Run, TaskRun

    ids = [run_id for run_id, _, _ in runs]
    assert set(Run.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"SUCCEEDED"}
    assert all(sent[-1][3] == "SUCCEEDED" for sent in phase.replies)
    tasks = TaskRun.objects.filter(run__in=ids)
    assert tasks.count() == len(ids) * TASKS_PER_RUN
    assert tasks.filter(state="SUCCEEDED", started_at__isnull=False,
                        ended_at__gt=F("started_at")).count() == len(ids) * TASKS_PER_RUN


def check_lines(runs: list[tuple[str, str, list]], phase: Phase) -> None:
    """Every run SUCCEEDED, every line stored once with seq 1…N, every answer naming its batch's last seq, and the
    secret lines masked."""
    from django.db.models import Count, Max, Min

    from controlplane.runs.models import Run, RunLogLine

    ids = [run_id for run_id, _, _ in runs]
    assert set(Run.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"SUCCEEDED"}
    for (_, _, batches), sent in zip(runs, phase.replies):
        expected = 0
        for batch, (_, _, last_log_seq, _) in zip(batches, sent):
            expected = max([expected, *(event["seq"] for event in batch if event["type"] == "log")])
            assert last_log_seq == expected
    per_run = RunLogLine.objects.filter(run__in=ids).values("run").annotate(n=Count("id"), low=Min("seq"),
                                                                               high=Max("seq"))
    stored = sorted((row["n"], row["low"], row["high"]) for row in per_run)
    assert stored == [(LINES_PER_RUN, 1, LINES_PER_RUN)] * len(ids)
    lines = RunLogLine.objects.filter(run__in=ids)
    assert lines.filter(message__contains="password=***").count() == len(ids) * (LINES_PER_RUN // SECRET_EVERY)
    for value in SECRETS.values():
        assert not lines.filter(message__contains=value).exists()


def table(events: Phase, lines: Phase, tasks: int) -> list[str]:
    """The markdown table: each measure, its workload, the result and the target."""
    def latency(phase: Phase) -> str:
        """Batch answer times, p50 / p95."""
        from flowyard_testkit.schedulers import percentile

        return (f"answer per batch p50 {statistics.median(phase.latencies) * 1000:.0f} ms, "
                f"p95 {percentile(phase.latencies, 95) * 1000:.0f} ms")

    tx_per_task = events.commits / tasks
    return [
        "| measure | workload | result | target |",
        "|---|---|---|---|",
        f"| task events ingested | {RUNS} runs × {TASKS_PER_RUN:,} tasks, RUNNING and SUCCEEDED: "
        f"{events.events:,} events in {events.batches} batches, {events.seconds:.2f} s; {latency(events)} "
        f"| **{events.rate:,.0f} events/s** "
        f"| ≥ {TARGET_EVENTS:,} {'met' if events.rate >= TARGET_EVENTS else 'missed'} |",
        f"| log lines ingested | {RUNS} runs × {LINES_PER_RUN:,} lines: {lines.events:,} lines in {lines.batches} "
        f"batches, {lines.seconds:.2f} s, {lines.commits:,} commits; {latency(lines)} | **{lines.rate:,.0f} lines/s** "
        f"| ≥ {TARGET_LINES:,} {'met' if lines.rate >= TARGET_LINES else 'missed'} |",
        f"| database transactions per task | {events.commits:,} commits during the task-event phase / {tasks:,} tasks "
        f"({events.commits / events.batches:.1f} per batch) | **{tx_per_task:.3f}** "
        f"| ≤ {TARGET_TX_PER_TASK:g} {'met' if tx_per_task <= TARGET_TX_PER_TASK else 'missed'} |",
    ]


def test_ingestion_of_task_events_and_log_lines(live_server, tmp_path):
    from django.db import connection

    from controlplane.deployments.secrets import secret_set
    from flowyard_testkit.bench_report import write_docs_block  # here: the posters run this file as a script
    from flowyard_testkit.tenants import build_tenant

    assert connection.vendor == "postgresql", (
        "B6 measures PostgreSQL: run it with FLOWYARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowyard_bench "
        "(make bench sets it)")
    tenant = build_tenant("ingestion")
    for name, value in SECRETS.items():
        secret_set(actor=tenant.admin, environment=tenant.test_env, name=name, value=value)
    url = f"http://127.0.0.1:{live_server.thread.port}"
    warm_up(url, tenant)
    commits = Commits(connection.settings_dict)
    try:
        event_runs = new_runs(tenant, RUNS, task_batches)
        sent_events = sum(len(batch) for _, _, batches in event_runs for batch in batches)
        events = ingest(url, event_runs, sent_events, commits, tmp_path)
        line_runs = new_runs(tenant, RUNS, log_batches)
        lines = ingest(url, line_runs, RUNS * LINES_PER_RUN, commits, tmp_path)
    finally:
        commits.close()
    check_tasks(event_runs, events)
    check_lines(line_runs, lines)

    rows = table(events, lines, RUNS * TASKS_PER_RUN)
    print("\n" + "\n".join(rows))
    when = datetime.date.today().isoformat()
    write_docs_block("ingestion", [
        f"Result ({when}, Python {platform.python_version()}, PostgreSQL {connection.pg_version // 10000}, "
        f"{os.cpu_count()} CPUs, one run of `{COMMAND}`):",
        "",
        *rows,
    ])
    assert events.rate >= TARGET_EVENTS and lines.rate >= TARGET_LINES
    assert events.commits / (RUNS * TASKS_PER_RUN) <= TARGET_TX_PER_TASK


if __name__ == "__main__":
    post_batches(*sys.argv[1:4])
