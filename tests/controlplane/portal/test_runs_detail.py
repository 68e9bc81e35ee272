"""A run's page: its header, the task graph drawn by Graphviz, the timeline, the task table; 404 for other teams."""

from __future__ import annotations

import datetime
import re
import subprocess

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from controlplane.portal import graph
from controlplane.runs.models import Run, TaskRun
from flowyard_spec.states import Role, RunReason, RunState, TaskState

DETAIL_QUERY_BOUND = 14  # 12 today: session, user, run, task runs, 3 log reads, role (2), header (3)
TRICKY_KEY = 'say-"hi"-<b>&</b>\\N-0'


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_graph_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def finished_run(tenant_a) -> Run:
    """Tenant A's run, FAILED after a DAG: two mapped extracts → transform (retried once) → load, plus a tricky key."""
    run = tenant_a.run
    start = timezone.now() - datetime.timedelta(minutes=10)
    Run.objects.filter(pk=run.pk).update(
        state=RunState.FAILED, reason=RunReason.OOM_KILLED, message="Out of memory: the runtime killed it (exit 137).",
        started_at=start, ended_at=start + datetime.timedelta(minutes=5),
    )
    TaskRun.objects.filter(run=run).update(map_index=0, started_at=start, ended_at=start + datetime.timedelta(seconds=30))

    def task(key, state, begin, seconds, **fields):
        return TaskRun.objects.create(
            run=run, task_key=key, name=key.rsplit("-", 1)[0], state=state,
            started_at=start + datetime.timedelta(seconds=begin) if begin is not None else None,
            ended_at=start + datetime.timedelta(seconds=begin + seconds) if begin is not None and seconds else None,
            **fields,
        )

    task("extract-1", TaskState.SUCCEEDED, 0, 40, map_index=1)
    first_attempt = {"attempt": 1, "state": "RETRYING", "started_at": (start + datetime.timedelta(seconds=41)).isoformat(),
                     "ended_at": (start + datetime.timedelta(seconds=43)).isoformat()}
    task("transform-0", TaskState.SUCCEEDED, 45, 60, attempt=2, attempts=[first_attempt],
         upstream_keys=["extract-0", "extract-1"])
    task("load-0", TaskState.FAILED, 110, 150, upstream_keys=["transform-0", "not-a-task"], error="MemoryError")
    task(TRICKY_KEY, TaskState.PENDING, None, None, upstream_keys=["load-0"])
    return Run.objects.get(pk=run.pk)


def test_another_teams_run_is_not_found_on_every_page_of_it(tenant_a, tenant_b):
    client = signed_in(tenant_a.users[Role.ADMIN])
    for suffix in ("", "log.json", "log.txt", "rerun/"):
        assert client.get(f"/runs/{tenant_b.run.pk}/{suffix}").status_code == 404, suffix
    for suffix in ("cancel/", "retry/", "rerun/"):
        assert client.post(f"/runs/{tenant_b.run.pk}/{suffix}").status_code == 404, suffix
    assert Run.objects.get(pk=tenant_b.run.pk).state == tenant_b.run.state


def test_the_header_says_state_reason_trigger_parameters_version_and_times(tenant_a, finished_run):
    response = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Run of etl in test · Flowyard</title>" in page
    assert "</span> FAILED</span>" in page
    assert '<code data-testid="reason">oom_killed</code>' in page and "more memory than its limit" in page
    assert "manual by alpha-developer" in page
    assert "<code>day</code>" in page and "&quot;2026-02-01&quot;" in page
    assert tenant_a.v2.git_commit_sha[:12] in page and tenant_a.v2.image_digest in page and "on main" in page
    assert "ran 5 min 0 s" in page
    assert 'data-testid="my-role">viewer<' in page  # the person's role in the header


def test_the_task_graph_has_a_node_per_task_run_with_its_key_and_state_and_the_upstream_edges(tenant_a, finished_run):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/").content.decode()
    figure = page[page.index('data-testid="task-graph"'):page.index("</figure>")]
    nodes = re.findall(r'<g id="task_\d+" class="node" data-task-key="([^"]*)" data-state="([^"]*)">', figure)
    escaped_tricky = 'say-&quot;hi&quot;-&lt;b&gt;&amp;&lt;/b&gt;\\N-0'
    assert sorted(nodes) == sorted([("extract-0", "SUCCEEDED"), ("extract-1", "SUCCEEDED"), ("transform-0", "SUCCEEDED"),
                                    ("load-0", "FAILED"), (escaped_tricky, "PENDING")])
    assert figure.count('class="edge"') == 4  # 2 extracts → transform → load → the tricky one; unknown keys ignored
    assert "<b>" not in figure and "<?xml" not in figure and "<!--" not in figure
    assert ">FAILED</text>" in figure  # the state is written in the node, not only its colour


def test_without_graphviz_the_page_shows_the_task_table_and_a_note(tenant_a, finished_run, monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    response = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="graph-note"' in page and "Graphviz is not installed" in page
    assert page.count('<tr data-task-key="') == 5


def test_a_graphviz_that_hangs_is_cut_off_and_the_page_still_answers(tenant_a, finished_run, monkeypatch):
    def hanging(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="dot", timeout=kwargs["timeout"])

    monkeypatch.setattr(graph.subprocess, "run", hanging)
    response = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/")
    assert response.status_code == 200 and "took too long" in response.content.decode()


def test_the_dot_source_escapes_every_label():
    class Task:
        task_key, state, attempt, upstream_keys = 'a"]; x [label="pwned"', "RUNNING", 1, []

    source = graph.dot_source([Task()])
    assert 'label=<a&quot;]; x [label=&quot;pwned&quot;<BR/>RUNNING>' in source
    drawn = graph.task_graph([Task()]).svg
    assert drawn.count('class="node"') == 1 and 'data-task-key="a&quot;]; x [label=&quot;pwned&quot;"' in drawn


def test_the_timeline_has_a_bar_per_started_task_run_with_attempt_map_index_and_state(tenant_a, finished_run):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/").content.decode()
    chart = page[page.index('data-testid="timeline"'):page.index("</svg>", page.index('data-testid="timeline"'))]
    bars = re.findall(r'<g class="bar state-[a-z-]+(?: earlier)?" data-task-key="([^"]*)" data-state="([A-Z_]+)" '
                      r'data-attempt="(\d+)"(?: data-map-index="(\d+)")?>', chart)
    assert sorted(bars) == sorted([("extract-0", "SUCCEEDED", "1", "0"), ("extract-1", "SUCCEEDED", "1", "1"),
                                   ("transform-0", "RETRYING", "1", ""), ("transform-0", "SUCCEEDED", "2", ""),
                                   ("load-0", "FAILED", "1", "")])
    assert "<title>transform-0 · attempt 2 · SUCCEEDED · 1 min 0 s</title>" in chart
    assert ">FAILED · 2 min 30 s</text>" in chart
    assert "Not started: " in page and "say-&quot;hi&quot;" in page
    xs = dict(re.findall(r'data-task-key="([^"]*)"[^>]*>\s*<title>[^<]*</title>\s*<text[^>]*>[^<]*</text>\s*<rect x="([\d.]+)"',
                         chart))
    assert float(xs["extract-0"]) < float(xs["transform-0"]) < float(xs["load-0"])


def test_a_retried_task_has_a_bar_per_attempt_earliest_first_and_the_others_one(tenant_a, finished_run):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/").content.decode()
    chart = page[page.index('data-testid="timeline"'):page.index("</svg>", page.index('data-testid="timeline"'))]
    retried = re.findall(r'<g class="bar state-([a-z-]+)( earlier)?" data-task-key="transform-0" data-state="([A-Z_]+)" '
                         r'data-attempt="(\d)">\s*<title>([^<]*)</title>\s*<text[^>]*>([^<]*)</text>\s*'
                         r'<rect x="([\d.]+)" y="([\d.]+)"', chart)
    assert [bar[:6] for bar in retried] == [
        ("retrying", " earlier", "RETRYING", "1", "transform-0 · attempt 1 · RETRYING · 2.0 s", "transform-0 (attempt 1)"),
        ("succeeded", "", "SUCCEEDED", "2", "transform-0 · attempt 2 · SUCCEEDED · 1 min 0 s", "transform-0 (attempt 2)"),
    ]
    (_, first_x, first_y), (_, second_x, second_y) = [(bar[3], float(bar[6]), float(bar[7])) for bar in retried]
    assert first_x < second_x and first_y < second_y, "attempt 1 starts earlier, on the row above attempt 2"
    for key in ("extract-0", "extract-1", "load-0"):
        assert chart.count(f'data-task-key="{key}"') == 1, key
    assert "load-0 (attempt" not in chart


def test_the_task_table_lists_every_task_run(tenant_a, finished_run):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{finished_run.pk}/").content.decode()
    table = page[page.index('data-testid="task-table"'):]
    assert table.count('<tr data-task-key="') == 5
    assert "MemoryError" in table and "extract-0, extract-1" in table


def test_the_number_of_queries_does_not_grow_with_the_task_runs(tenant_a, finished_run, django_assert_max_num_queries):
    client = signed_in(tenant_a.users[Role.VIEWER])
    with django_assert_max_num_queries(DETAIL_QUERY_BOUND):
        assert client.get(f"/runs/{finished_run.pk}/").status_code == 200
    TaskRun.objects.bulk_create(TaskRun(run=finished_run, task_key=f"fan-{index}", name="fan", map_index=index,
                                        upstream_keys=["transform-0"]) for index in range(60))
    with django_assert_max_num_queries(DETAIL_QUERY_BOUND):
        page = client.get(f"/runs/{finished_run.pk}/").content.decode()
    assert page.count('<tr data-task-key="') == 65


def test_an_earlier_attempt_without_an_end_ends_where_the_next_starts_and_unreadable_ones_are_skipped():
    from types import SimpleNamespace

    from controlplane.portal.timeline import timeline

    start = datetime.datetime(2026, 5, 1, 12, tzinfo=datetime.UTC)
    run = SimpleNamespace(started_at=start, ended_at=start + datetime.timedelta(seconds=20), is_terminal=True)
    earlier = [{"attempt": 1, "state": "RETRYING", "started_at": "2026-05-01T12:00:00Z", "ended_at": None},
               {"attempt": 2, "state": "RETRYING", "started_at": "yesterday"}, "not an attempt"]
    task = SimpleNamespace(task_key="load-0", state="SUCCEEDED", attempt=3, map_index=None, attempts=earlier,
                           started_at=start + datetime.timedelta(seconds=5), ended_at=start + datetime.timedelta(seconds=9))
    drawn = timeline(run, [task], start + datetime.timedelta(minutes=1))
    assert [(bar.attempt, bar.state, bar.duration, bar.running, bar.earlier) for bar in drawn.bars] == [
        (1, "RETRYING", "5.0 s", False, True), (3, "SUCCEEDED", "4.0 s", False, False)]
    assert drawn.not_started == []
