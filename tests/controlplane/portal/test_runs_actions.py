"""Cancel, retry and re-run from a run's page: developers may, as in the API; others get a 403 page and nothing
changes; every form carries a CSRF token and a POST without one is refused."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from controlplane.portal.views.runs import CANCEL_ROLE, TRIGGER_ROLE
from controlplane.runs.api.views import RunViewSet
from controlplane.runs.models import Run
from flowyard_spec.states import Role, RunReason, RunState, TriggerKind


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def failed_run(tenant_a) -> Run:
    Run.objects.filter(pk=tenant_a.run.pk).update(state=RunState.FAILED, reason=RunReason.USER_ERROR)
    return Run.objects.get(pk=tenant_a.run.pk)


def test_the_portal_needs_the_roles_the_api_declares():
    assert CANCEL_ROLE == RunViewSet.action_roles["cancel"] == Role.DEVELOPER
    assert TRIGGER_ROLE == RunViewSet.action_roles["create"].role == Role.DEVELOPER


def test_a_viewer_sees_no_button_and_is_told_why(tenant_a):
    page = signed_in(tenant_a.users[Role.VIEWER]).get(f"/runs/{tenant_a.run.pk}/").content.decode()
    assert 'data-testid="cancel-button"' not in page and 'data-testid="rerun-link"' not in page
    assert "needs the developer role on project alpha-main; you are viewer." in page


def test_a_developer_sees_cancel_and_rerun_with_csrf_tokens(tenant_a):
    page = signed_in(tenant_a.users[Role.DEVELOPER]).get(f"/runs/{tenant_a.run.pk}/").content.decode()
    cancel_form = page[page.index(f'action="/runs/{tenant_a.run.pk}/cancel/"'):]
    assert 'name="csrfmiddlewaretoken"' in cancel_form[:400] and 'data-testid="cancel-button"' in cancel_form
    assert 'data-testid="rerun-link"' in page and 'data-testid="retry-button"' not in page  # not ended yet


def test_a_viewers_cancel_is_refused_with_a_403_page_and_nothing_changes(tenant_a, fingerprint):
    client = signed_in(tenant_a.users[Role.VIEWER])
    before = fingerprint()  # after signing in, which records the sign-in time
    response = client.post(f"/runs/{tenant_a.run.pk}/cancel/")
    assert response.status_code == 403
    assert "Cancelling a run needs the developer role" in response.content.decode()
    assert fingerprint() == before


def test_a_developers_cancel_cancels_the_run_as_the_api_does(tenant_a):
    client = signed_in(tenant_a.users[Role.DEVELOPER])
    response = client.post(f"/runs/{tenant_a.run.pk}/cancel/")
    assert response.status_code == 302 and response["Location"] == f"/runs/{tenant_a.run.pk}/"
    run = Run.objects.get(pk=tenant_a.run.pk)
    assert run.state == RunState.CANCELLED and run.reason == RunReason.CANCELLED
    assert "Cancelled by alpha-developer" in run.message
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="message">Cancel requested: the run is CANCELLED.' in page


def test_cancelling_an_ended_run_is_refused_with_the_services_sentence(tenant_a, failed_run):
    response = signed_in(tenant_a.users[Role.DEVELOPER]).post(f"/runs/{failed_run.pk}/cancel/")
    assert response.status_code == 409
    assert Run.objects.get(pk=failed_run.pk).state == RunState.FAILED


def test_a_post_without_the_csrf_token_is_refused(tenant_a, fingerprint):
    client = signed_in(tenant_a.users[Role.DEVELOPER], enforce_csrf_checks=True)
    before = fingerprint()
    for action in ("cancel", "retry", "rerun"):
        assert client.post(f"/runs/{tenant_a.run.pk}/{action}/").status_code == 403, action
    assert fingerprint() == before


def test_a_developer_retries_an_ended_run_with_the_same_parameters(tenant_a, failed_run):
    response = signed_in(tenant_a.users[Role.DEVELOPER]).post(f"/runs/{failed_run.pk}/retry/")
    assert response.status_code == 302
    again = Run.objects.exclude(pk=failed_run.pk).get(deployment=tenant_a.test_deployment)
    assert response["Location"] == f"/runs/{again.pk}/"
    assert again.parameters == failed_run.parameters and again.trigger == TriggerKind.MANUAL
    assert again.triggered_by == tenant_a.users[Role.DEVELOPER] and again.state == RunState.QUEUED


def test_a_viewers_retry_and_rerun_are_refused_and_nothing_changes(tenant_a, failed_run, fingerprint):
    client = signed_in(tenant_a.users[Role.VIEWER])
    before = fingerprint()
    assert client.post(f"/runs/{failed_run.pk}/retry/").status_code == 403
    assert client.get(f"/runs/{failed_run.pk}/rerun/").status_code == 403
    assert client.post(f"/runs/{failed_run.pk}/rerun/", {"parameters": "{}"}).status_code == 403
    assert fingerprint() == before


def test_a_run_that_has_not_ended_is_not_retried(tenant_a):
    response = signed_in(tenant_a.users[Role.DEVELOPER]).post(f"/runs/{tenant_a.run.pk}/retry/")
    assert response.status_code == 409 and list(Run.objects.all()) == [tenant_a.run]


def test_the_rerun_form_is_prefilled_and_starts_a_run_with_the_parameters_given(tenant_a, failed_run):
    client = signed_in(tenant_a.users[Role.DEVELOPER])
    form = client.get(f"/runs/{failed_run.pk}/rerun/").content.decode()
    assert '<label for="id_parameters">Parameters (JSON)</label>' in form
    assert "&quot;day&quot;: &quot;2026-02-01&quot;" in form and 'name="csrfmiddlewaretoken"' in form
    response = client.post(f"/runs/{failed_run.pk}/rerun/", {"parameters": json.dumps({"day": "2026-03-01", "limit": 3})})
    assert response.status_code == 302
    again = Run.objects.exclude(pk=failed_run.pk).get(deployment=tenant_a.test_deployment)
    assert again.parameters == {"day": "2026-03-01", "limit": 3}


@pytest.mark.parametrize(("text", "status", "says"), [
    ("{not json", 400, "This is not JSON"),
    ("[1, 2]", 400, "Give a JSON object"),
    ('{"colour": "red"}', 400, "Unknown parameter(s) colour"),
])
def test_a_rerun_with_bad_parameters_says_what_is_wrong_and_starts_nothing(tenant_a, failed_run, text, status, says):
    response = signed_in(tenant_a.users[Role.DEVELOPER]).post(f"/runs/{failed_run.pk}/rerun/", {"parameters": text})
    assert response.status_code == status and says in response.content.decode()
    assert not Run.objects.exclude(pk=failed_run.pk).filter(deployment=tenant_a.test_deployment).exists()
