"""The trigger form: fields from the deployed version's parameters, the API's role rule, errors next to fields."""

from __future__ import annotations

import hashlib

from django.test import Client

from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment
from controlplane.runs.models import Run
from flowyard_spec.states import Role, TriggerKind
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest


def client_of(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def url_of(deployment) -> str:
    return f"/deployments/{deployment.pk}/trigger/"


def test_the_form_has_a_labelled_field_per_parameter_prefilled_with_its_default(tenant_a):
    html = client_of(tenant_a.users[Role.DEVELOPER]).get(url_of(tenant_a.test_deployment)).content.decode()
    assert '<label for="id_param-day">day</label>' in html and 'value="2026-01-01"' in html
    assert '<label for="id_param-limit">limit</label>' in html and 'type="number" name="param-limit" value="10"' in html
    assert 'aria-describedby="id_param-limit_helptext"' in html
    assert 'name="csrfmiddlewaretoken"' in html and 'data-testid="trigger-button"' in html
    assert "<title>Trigger etl in test · Flowyard</title>" in html


def test_a_viewer_sees_no_button_and_their_post_is_refused_with_no_run(tenant_a):
    viewer = client_of(tenant_a.users[Role.VIEWER])
    html = viewer.get(url_of(tenant_a.test_deployment)).content.decode()
    assert 'data-testid="trigger-button"' not in html
    assert "needs the developer role" in html
    before = Run.objects.count()
    response = viewer.post(url_of(tenant_a.test_deployment), {"param-day": "2026-03-01", "param-limit": "5"})
    assert response.status_code == 403
    assert "needs the developer role on project alpha-main; you are viewer" in response.content.decode()
    assert Run.objects.count() == before


def test_another_teams_deployment_is_a_404(tenant_a, tenant_b):
    developer = client_of(tenant_a.users[Role.DEVELOPER])
    before = Run.objects.count()
    assert developer.get(url_of(tenant_b.test_deployment)).status_code == 404
    assert developer.post(url_of(tenant_b.test_deployment), {"param-limit": "1"}).status_code == 404
    assert Run.objects.count() == before


def test_a_bad_parameter_is_shown_next_to_its_field_and_starts_nothing(tenant_a):
    before = Run.objects.count()
    response = client_of(tenant_a.users[Role.DEVELOPER]).post(
        url_of(tenant_a.test_deployment), {"param-day": "2026-03-01", "param-limit": "ten"})
    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" id="id_param-limit_error" role="alert">Enter a whole number.</p>' in html
    assert 'aria-describedby="id_param-limit_helptext id_param-limit_error"' in html and 'aria-invalid="true"' in html
    assert Run.objects.count() == before


def test_a_developer_starts_a_run_with_the_given_parameters(tenant_a):
    developer = tenant_a.users[Role.DEVELOPER]
    response = client_of(developer).post(url_of(tenant_a.test_deployment), {"param-day": "2026-03-01", "param-limit": "5"})
    run = Run.objects.filter(deployment=tenant_a.test_deployment).order_by("-created_at").first()
    assert response.status_code == 302 and run != tenant_a.run
    assert run.parameters == {"day": "2026-03-01", "limit": 5}
    assert run.trigger == TriggerKind.MANUAL and run.triggered_by == developer and run.version == tenant_a.v2


def test_a_developer_may_trigger_in_production_as_through_the_api(tenant_a):
    response = client_of(tenant_a.users[Role.DEVELOPER]).post(
        url_of(tenant_a.production_deployment), {"param-day": "2026-03-01", "param-limit": "5"})
    assert response.status_code == 302
    assert Run.objects.filter(deployment=tenant_a.production_deployment).exists()


def test_typed_parameters_bool_float_and_json(tenant_a):
    developer = tenant_a.users[Role.DEVELOPER]
    version = register_version(
        actor=developer, workflow=tenant_a.ingest, image_digest=digest("typed"), image_ref="127.0.0.1:5000/ingest:typed",
        git_commit_sha=hashlib.sha1(b"typed").hexdigest(),
        config={"name": "ingest", "parameters": {"full": False, "ratio": 0.5, "tables": ["a"], "since": None}})
    deployment = deployments.deployment_set(actor=developer, workflow=tenant_a.ingest, environment=tenant_a.test_env,
                                            version=version)
    client = client_of(developer)
    html = client.get(url_of(deployment)).content.decode()
    assert 'type="checkbox" name="param-full"' in html and 'name="param-tables"' in html
    bad = client.post(url_of(deployment), {"param-ratio": "half", "param-tables": "[1,", "param-since": ""})
    assert bad.status_code == 400 and not Run.objects.filter(deployment=deployment).exists()
    assert 'id="id_param-ratio_error"' in bad.content.decode() and 'id="id_param-tables_error"' in bad.content.decode()
    good = client.post(url_of(deployment), {"param-full": "on", "param-ratio": "0.25", "param-tables": '["a", "b"]',
                                            "param-since": '"2026-01-01"'})
    assert good.status_code == 302
    run = Run.objects.get(deployment=deployment)
    assert run.parameters == {"full": True, "ratio": 0.25, "tables": ["a", "b"], "since": "2026-01-01"}


def test_nothing_deployed_is_explained_and_offers_no_button(tenant_a):
    empty = Deployment.objects.create(workflow=tenant_a.empty_workflow, environment=tenant_a.test_env)
    client = client_of(tenant_a.users[Role.DEVELOPER])
    html = client.get(url_of(empty)).content.decode()
    assert "Nothing is deployed to test" in html and 'data-testid="trigger-button"' not in html
    assert client.post(url_of(empty), {}).status_code == 403


def test_a_post_without_the_csrf_token_is_refused(tenant_a):
    before = Run.objects.count()
    client = client_of(tenant_a.users[Role.DEVELOPER], enforce_csrf_checks=True)
    response = client.post(url_of(tenant_a.test_deployment), {"param-day": "2026-03-01", "param-limit": "5"})
    assert response.status_code == 403 and Run.objects.count() == before
