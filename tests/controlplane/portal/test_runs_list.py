"""The runs list: my projects' runs only, filters, a keyset cursor, and a bounded number of queries per page."""

from __future__ import annotations

import datetime
import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlplane.portal.views.runs import PAGE_SIZE
from controlplane.runs.models import Run
from flowyard_spec.states import Role, RunReason, RunState, TriggerKind

QUERY_BOUND = 10  # 7 today: session, user, permissions, filter choices (2), the page of runs, the header


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f-]+)">', page)


def add_runs(deployment, count: int, **fields) -> list[Run]:
    """`count` runs of `deployment`, newest last (created_at 1 s apart, ending a minute ago)."""
    runs = Run.objects.bulk_create(Run(deployment=deployment, version=deployment.version, **fields) for _ in range(count))
    start = timezone.now() - datetime.timedelta(minutes=1, seconds=count)
    for offset, run in enumerate(runs):
        Run.objects.filter(pk=run.pk).update(created_at=start + datetime.timedelta(seconds=offset))
    return runs


def test_nobody_signed_in_is_sent_to_the_sign_in_page():
    response = Client().get("/runs/")
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")


def test_the_list_shows_my_projects_runs_and_never_another_teams(tenant_a, tenant_b):
    page = signed_in(tenant_a.users[Role.VIEWER]).get("/runs/").content.decode()
    assert listed_ids(page) == [str(tenant_a.run.pk)]
    assert str(tenant_b.run.pk) not in page and tenant_b.prefix not in page
    assert f'href="/runs/{tenant_a.run.pk}/"' in page
    assert f"</span> {tenant_a.run.state}</span>" in page  # the state in words, not colour alone
    assert tenant_a.users[Role.DEVELOPER].get_username() in page  # who started it


def test_every_filter_field_has_a_label(tenant_a):
    page = signed_in(tenant_a.users[Role.VIEWER]).get("/runs/").content.decode()
    for name in ("state", "environment", "workflow", "trigger", "from", "to"):
        assert f'<label for="id_{name}">' in page and f'id="id_{name}"' in page
    assert "<title>Runs · Flowyard</title>" in page


def test_filters_by_state_environment_workflow_trigger_and_time(tenant_a):
    failed = add_runs(tenant_a.production_deployment, 1, state=RunState.FAILED, reason=RunReason.USER_ERROR,
                      trigger=TriggerKind.SCHEDULE)[0]
    report = add_runs(tenant_a.report_test_deployment, 1, trigger=TriggerKind.API)[0]
    client = signed_in(tenant_a.users[Role.VIEWER])

    def ids(**query) -> list[str]:
        response = client.get("/runs/", query)
        assert response.status_code == 200, response.content.decode()
        return listed_ids(response.content.decode())

    assert ids(state="FAILED") == [str(failed.pk)]
    assert ids(environment="production") == [str(failed.pk)]
    assert set(ids(environment="test")) == {str(tenant_a.run.pk), str(report.pk)}
    assert ids(workflow=str(tenant_a.report.pk)) == [str(report.pk)]
    assert ids(trigger="schedule") == [str(failed.pk)]
    assert ids(trigger="manual") == [str(tenant_a.run.pk)]
    failed_at = timezone.now() - datetime.timedelta(hours=2)
    Run.objects.filter(pk=failed.pk).update(created_at=failed_at)
    stamp = "%Y-%m-%dT%H:%M:%S"
    assert str(failed.pk) not in ids(**{"from": (failed_at + datetime.timedelta(seconds=1)).strftime(stamp)})
    assert ids(**{"to": (failed_at + datetime.timedelta(seconds=1)).strftime(stamp)}) == [str(failed.pk)]


def test_a_filter_naming_another_teams_workflow_is_refused_and_shows_nothing_of_it(tenant_a, tenant_b):
    response = signed_in(tenant_a.users[Role.VIEWER]).get("/runs/", {"workflow": str(tenant_b.workflow.pk)})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="filter-errors"' in page and str(tenant_b.run.pk) not in page


def test_the_cursor_walks_every_run_once_newest_first(tenant_a):
    add_runs(tenant_a.test_deployment, PAGE_SIZE + 10)
    client = signed_in(tenant_a.users[Role.VIEWER])
    first = client.get("/runs/").content.decode()
    first_ids = listed_ids(first)
    assert len(first_ids) == PAGE_SIZE
    next_url = re.search(r'data-testid="next-page" href="([^"]+)"|href="([^"]+)" data-testid="next-page"', first)
    assert next_url, "no link to the next page"
    second = client.get("/runs/" + (next_url.group(1) or next_url.group(2)).replace("&amp;", "&")).content.decode()
    second_ids = listed_ids(second)
    assert 'data-testid="next-page"' not in second and 'data-testid="first-page"' in second
    expected = [str(pk) for pk in Run.objects.filter(deployment__environment__project=tenant_a.project)
                .order_by("-created_at", "-id").values_list("pk", flat=True)]
    assert first_ids + second_ids == expected


def test_the_cursor_breaks_ties_of_equal_creation_times_by_id(tenant_a):
    runs = add_runs(tenant_a.test_deployment, PAGE_SIZE + 5)
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(created_at=timezone.now())
    client = signed_in(tenant_a.users[Role.VIEWER])
    seen, url = [], "/runs/?state=QUEUED"
    while url:
        page = client.get(url).content.decode()
        seen += listed_ids(page)
        found = re.search(r'href="([^"]+)" data-testid="next-page"', page)
        url = "/runs/" + found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == len(set(seen)) == PAGE_SIZE + 6


def test_a_broken_cursor_is_refused_with_a_sentence(tenant_a):
    response = signed_in(tenant_a.users[Role.VIEWER]).get("/runs/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400 and "This page link is broken" in response.content.decode()


def test_the_number_of_queries_does_not_grow_with_the_runs_on_the_page(tenant_a, django_assert_max_num_queries):
    client = signed_in(tenant_a.users[Role.VIEWER])
    add_runs(tenant_a.test_deployment, 4)
    with django_assert_max_num_queries(QUERY_BOUND):
        assert len(listed_ids(client.get("/runs/").content.decode())) == 5
    add_runs(tenant_a.production_deployment, 45, state=RunState.SUCCEEDED, trigger=TriggerKind.SCHEDULE)
    with django_assert_max_num_queries(QUERY_BOUND):
        assert len(listed_ids(client.get("/runs/").content.decode())) == PAGE_SIZE


def test_no_query_counts_the_runs(tenant_a):
    client = signed_in(tenant_a.users[Role.VIEWER])
    with CaptureQueriesContext(connection) as captured:
        client.get("/runs/")
    assert not [query for query in captured if "COUNT(" in query["sql"].upper() and "runs_run" in query["sql"]]
