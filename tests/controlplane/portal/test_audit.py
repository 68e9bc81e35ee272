"""The audit log page: my projects' events only, filters, and keyset pages."""

from __future__ import annotations

import datetime
import re

from django.db.models import Q
from django.test import Client
from django.utils import timezone

from controlplane.core.models import AuditEvent
from controlplane.portal.views import audit as audit_page
from flowyard_spec.states import Role


def events_on(user, **query) -> tuple[list[int], str]:
    client = Client()
    client.force_login(user)
    response = client.get("/audit/", query)
    assert response.status_code == 200
    html = response.content.decode()
    return [int(pk) for pk in re.findall(r'<tr data-event="(\d+)">', html)], html


def test_a_member_sees_their_projects_events_and_never_another_teams(tenant_a, tenant_b):
    viewer = tenant_a.users[Role.VIEWER]
    shown, html = events_on(viewer)
    mine = AuditEvent.objects.filter(Q(project__team=tenant_a.team) | Q(team=tenant_a.team) | Q(actor=viewer))
    assert shown and set(shown) <= set(mine.values_list("pk", flat=True))
    assert not set(shown) & tenant_b.audit_event_ids()
    assert not AuditEvent.objects.filter(pk__in=shown, project__team=tenant_b.team).exists()
    assert "<title>Audit log · Flowyard</title>" in html and '<label for="id_action">Action</label>' in html


def test_filters_by_action_actor_and_project(tenant_a):
    viewer = tenant_a.users[Role.VIEWER]
    triggered, _ = events_on(viewer, action="run.triggered")
    assert triggered and set(AuditEvent.objects.filter(pk__in=triggered).values_list("action", flat=True)) == {
        "run.triggered"}
    by_developer, _ = events_on(viewer, actor="alpha-developer")
    assert by_developer and set(AuditEvent.objects.filter(pk__in=by_developer).values_list("actor_label", flat=True)) \
        == {"alpha-developer"}
    in_empty, _ = events_on(viewer, project=tenant_a.empty_project.slug)
    assert set(AuditEvent.objects.filter(pk__in=in_empty).values_list("project", flat=True)) <= {tenant_a.empty_project.pk}


def test_filters_by_time_range(tenant_a):
    viewer = tenant_a.users[Role.VIEWER]
    now = timezone.now()
    old = AuditEvent.objects.filter(project=tenant_a.project).order_by("at").first()
    AuditEvent.objects.filter(pk=old.pk).update(at=now - datetime.timedelta(days=10))
    fmt = "%Y-%m-%dT%H:%M"
    recent, _ = events_on(viewer, since=(now - datetime.timedelta(days=1)).strftime(fmt))
    assert recent and old.pk not in recent
    earlier, _ = events_on(viewer, until=(now - datetime.timedelta(days=5)).strftime(fmt))
    assert earlier == [old.pk]
    _, html = events_on(viewer, since=now.strftime(fmt), until=(now - datetime.timedelta(days=1)).strftime(fmt))
    assert "The end of the range is before its start." in html


def test_pages_follow_each_other_without_gaps_or_repeats(tenant_a, monkeypatch):
    viewer = tenant_a.users[Role.VIEWER]
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 1000)
    everything, _ = events_on(viewer, project=tenant_a.project.slug)
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 3)
    seen, query = [], {"project": tenant_a.project.slug}
    while True:
        shown, html = events_on(viewer, **query)
        assert len(shown) <= 3
        seen += shown
        older = re.search(r'href="\?([^"]+)" data-testid="older"', html)
        if older is None:
            break
        query = dict(pair.split("=", 1) for pair in older.group(1).replace("&amp;", "&").split("&"))
    assert seen == everything and len(seen) > 3
