"""A run's log in the portal: the last lines on the page, a live tail (log.json), the whole log as text (log.txt),
the first error, and secrets that stay masked everywhere."""

from __future__ import annotations

import re

from django.test import Client
from django.utils import timezone

from controlplane.deployments.secrets import secret_set
from controlplane.portal.logs import DOWNLOAD_CHUNK, WINDOW_LINES
from controlplane.runs.models import Run, RunLogLine
from controlplane.runs.reporting import runner_events_apply
from flowyard_spec.states import Role, RunState

SECRET = "Tr0ub4dor&3-s3cr3t"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_lines(run, count: int, start: int = 4, **fields) -> None:
    RunLogLine.objects.bulk_create(
        RunLogLine(run=run, seq=seq, at=timezone.now(), message=f"bulk line {seq}", **fields)
        for seq in range(start, start + count)
    )


def shown_seqs(page: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'<li id="line-(\d+)"', page)]


def test_the_page_shows_the_lines_and_a_live_tail_while_the_run_is_not_over(tenant_a):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{tenant_a.run.pk}/").content.decode()
    assert shown_seqs(page) == [1, 2, 3] and "alpha line 2" in page
    assert f'data-json-url="/runs/{tenant_a.run.pk}/log.json" data-after="3" data-live="true"' in page
    assert re.search(r'<script src="/static/portal/js/run_log\.js[^"]*" defer>', page)
    for control in ("log-task", "log-level", "log-search", "log-follow"):
        assert f'<label for="{control}">' in page


def test_log_json_after_a_seq_returns_only_the_newer_lines(tenant_a):
    answer = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{tenant_a.run.pk}/log.json", {"after": 2})
    assert answer.status_code == 200 and answer["Cache-Control"].startswith("max-age=0")
    page = answer.json()
    assert [line["seq"] for line in page["lines"]] == [3]
    assert page["lines"][0]["message"] == "alpha line 3"
    assert page["next_after"] == 3 and page["run_state"] == "QUEUED" and page["done"] is False
    nothing_new = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{tenant_a.run.pk}/log.json", {"after": 3}).json()
    assert nothing_new["lines"] == [] and nothing_new["next_after"] == 3


def test_log_json_says_done_once_the_run_has_ended_and_every_line_was_sent(tenant_a):
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.SUCCEEDED)
    client = signed_in(tenant_a.users[Role.VIEWER])
    assert client.get(f"/runs/{tenant_a.run.pk}/log.json", {"after": 0}).json()["done"] is True
    assert client.get(f"/runs/{tenant_a.run.pk}/log.json", {"after": 0, "limit": 2}).json()["done"] is False
    assert client.get(f"/runs/{tenant_a.run.pk}/log.json", {"after": "x"}).status_code == 400
    page = client.get(f"/runs/{tenant_a.run.pk}/").content.decode()
    assert 'data-live="false"' in page


def test_the_page_shows_the_last_lines_and_links_to_earlier_ones(tenant_a):
    add_lines(tenant_a.run, WINDOW_LINES + 97)  # lines 1 … 600
    client = signed_in(tenant_a.users[Role.VIEWER])
    page = client.get(f"/runs/{tenant_a.run.pk}/").content.decode()
    assert shown_seqs(page) == list(range(101, 601))
    assert 'href="?log_from=1#log-heading" data-testid="earlier-lines"' in page
    earlier = client.get(f"/runs/{tenant_a.run.pk}/", {"log_from": 1}).content.decode()
    assert shown_seqs(earlier) == list(range(1, 501))


def test_jump_to_the_first_error_links_to_its_line(tenant_a):
    add_lines(tenant_a.run, 700)  # 4 … 703
    RunLogLine.objects.create(run=tenant_a.run, seq=704, at=timezone.now(), level="INFO", message="fine")
    RunLogLine.objects.filter(run=tenant_a.run, seq=50).update(stream="stderr", message="Traceback (most recent call last)")
    RunLogLine.objects.filter(run=tenant_a.run, seq=600).update(level="ERROR", message="later error")
    client = signed_in(tenant_a.users[Role.VIEWER])
    page = client.get(f"/runs/{tenant_a.run.pk}/").content.decode()
    assert 'href="?log_from=45#line-50" id="log-first-error" data-seq="50"' in page
    assert 'id="line-600" data-seq="600" data-task="" data-level="ERROR" data-error="true"' in page
    around = client.get(f"/runs/{tenant_a.run.pk}/", {"log_from": 45}).content.decode()
    assert 'id="line-50"' in around and "Traceback (most recent call last)" in around


def test_log_txt_streams_every_line_in_order(tenant_a):
    add_lines(tenant_a.run, DOWNLOAD_CHUNK + 500, task_key="extract-0", level="INFO")
    answer = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{tenant_a.run.pk}/log.txt")
    assert answer.status_code == 200 and answer.streaming
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    assert answer["Content-Disposition"] == f'attachment; filename="run-{tenant_a.run.pk}.log.txt"'
    lines = b"".join(answer.streaming_content).decode().splitlines()
    assert len(lines) == 3 + DOWNLOAD_CHUNK + 500
    assert lines[0].endswith(" stdout - - alpha line 1")
    assert lines[-1].endswith(f" stdout INFO extract-0 bulk line {3 + DOWNLOAD_CHUNK + 500}")


def test_log_txt_narrows_by_text_task_and_level(tenant_a):
    RunLogLine.objects.create(run=tenant_a.run, seq=4, at=timezone.now(), task_key="load-0", level="ERROR",
                              message="Connection REFUSED by db")
    client = signed_in(tenant_a.users[Role.VIEWER])

    def text(**query) -> str:
        return b"".join(client.get(f"/runs/{tenant_a.run.pk}/log.txt", query).streaming_content).decode()

    assert text(q="refused").count("\n") == 1 and "Connection REFUSED" in text(q="refused")
    assert text(task="load-0").count("\n") == 1
    assert text(level="ERROR").count("\n") == 1
    assert text(q="alpha line").count("\n") == 3


def test_secrets_stay_masked_on_the_page_in_the_tail_and_in_the_download(tenant_a):
    secret_set(actor=None, environment=tenant_a.test_env, name="DB_PASSWORD", value=SECRET)
    at = timezone.now().isoformat()
    runner_events_apply(run_id=tenant_a.run.pk, payload={"events": [
        {"type": "log", "seq": 4, "at": at, "message": f"connecting with password={SECRET}", "level": "ERROR"},
        {"type": "task", "task_key": "load-0", "name": "load", "state": "FAILED", "at": at,
         "error": f"AuthError: {SECRET!r} rejected"},
    ]})
    client = signed_in(tenant_a.users[Role.VIEWER])
    page = client.get(f"/runs/{tenant_a.run.pk}/").content.decode()
    tail = client.get(f"/runs/{tenant_a.run.pk}/log.json", {"after": 3}).content.decode()
    download = b"".join(client.get(f"/runs/{tenant_a.run.pk}/log.txt").streaming_content).decode()
    for shown in (page, tail, download):
        assert SECRET not in shown and "Tr0ub4dor&amp;3" not in shown and "Tr0ub4dor\\u00263" not in shown
        assert "password=***" in shown
    assert "AuthError: &#x27;***&#x27; rejected" in page  # the task error in the task table
