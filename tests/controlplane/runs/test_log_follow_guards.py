"""What long polling of a run's log relies on: requests outside transactions and an indexed (run, seq) read."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections

from controlplane.runs import follow
from controlplane.runs.models import Run, RunLogLine


def test_requests_are_not_atomic_so_each_poll_sees_committed_lines():
    # A waiting request polls in autocommit mode: with ATOMIC_REQUESTS on, the whole wait would be one
    # transaction (a fixed snapshot on SQLite, an open transaction for up to 30 s on PostgreSQL).
    assert [alias for alias in connections if connections[alias].settings_dict["ATOMIC_REQUESTS"]] == []


def test_waiting_inside_a_transaction_is_refused(tenant_a):
    run = Run.objects.get(pk=tenant_a.run.pk)  # QUEUED, three lines; this test runs inside a transaction
    assert connection.in_atomic_block
    with pytest.raises(ImproperlyConfigured, match="ATOMIC_REQUESTS"):
        follow.log_page(run=run, after=3, wait=1, sleep=lambda seconds: None)


def test_nothing_waits_when_there_is_something_to_answer(tenant_a):
    run = Run.objects.get(pk=tenant_a.run.pk)

    def no_sleep(seconds: float) -> None:
        raise AssertionError("it waited")

    page = follow.log_page(run=run, after=1, wait=30, sleep=no_sleep)  # lines are there
    assert [line.seq for line in page.lines] == [2, 3] and page.next_after == 3 and not page.done
    run.state = "CANCELLED"
    page = follow.log_page(run=run, after=3, wait=30, sleep=no_sleep)  # the run has ended
    assert page.lines == [] and page.done and page.run_state == "CANCELLED"
    page = follow.log_page(run=run, after=3, wait=0, sleep=no_sleep)  # no wait asked
    assert page.lines == [] and page.done


def test_the_lines_after_a_cursor_are_read_through_the_run_seq_index(tenant_a):
    run = tenant_a.run
    query = RunLogLine.objects.filter(run=run, seq__gt=1).order_by("seq")[:500]
    if connection.vendor == "sqlite":  # the unique constraint is the table's own index
        plan = query.explain()
        assert "USING INDEX" in plan and "(run_id=? AND seq>?)" in plan and "TEMP B-TREE" not in plan, plan
    else:  # a tiny table is scanned whole (or bitmap-scanned, then sorted) unless the planner is told not to
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = query.explain()
        assert "unique_log_seq_per_run" in plan and "Sort" not in plan, plan
