"""Deployment webhooks: a call with the webhook's secret (bearer or HMAC signature) starts exactly one run with the
body's parameters; a missing or wrong credential, a stale timestamp or a replayed idempotency key starts none."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import Client

from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Deployment
from controlplane.deployments.secrets import secret_cipher
from controlplane.runs.models import Run
from controlplane.scheduling import webhooks
from controlplane.scheduling.models import DeploymentWebhook, WebhookDelivery
from flowyard_testkit.tenants import Tenant
from flowyard_spec.states import Role

MANAGE = "/api/v1/webhooks/"


def hook_url(webhook: DeploymentWebhook) -> str:
    """Where deliveries to `webhook` are posted."""
    return f"/api/v1/hooks/{webhook.pk}/"


def deliver(webhook, body=None, *, bearer=None, secret=None, timestamp=None, key=None, raw=None, **headers):
    """POST `body` (JSON-encoded; `raw` bytes as they are) to the webhook, with a bearer or an HMAC signature."""
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if secret is not None:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers["X-Flowyard-Timestamp"] = stamp
        headers["X-Flowyard-Signature"] = webhooks.signature_for(secret, stamp, data)
    if key is not None:
        headers["Idempotency-Key"] = key
    return Client().post(hook_url(webhook), data=data, content_type="application/json", headers=headers)


@pytest.fixture
def hook(tenant_a: Tenant) -> DeploymentWebhook:
    """Team A's test deployment's webhook (made by build_tenant); its secret is tenant_a.extra['webhook_secret']."""
    return tenant_a.extra["webhook"]


@pytest.fixture
def secret(tenant_a: Tenant) -> str:
    """The secret of `hook`."""
    return tenant_a.extra["webhook_secret"]


def webhook_runs(webhook) -> list[Run]:
    """The runs the webhook started, oldest first."""
    return list(Run.objects.filter(triggered_by_label=f"webhook:{webhook.pk}").order_by("created_at"))


# -- a valid call ----------------------------------------------------------------------------------------------
def test_a_valid_bearer_call_creates_exactly_one_run_with_the_payloads_parameters(tenant_a, hook, secret):
    response = deliver(hook, {"day": "2026-11-01"}, bearer=secret)
    assert response.status_code == 201, response.json()
    [run] = webhook_runs(hook)
    assert response.json() == {"run": str(run.pk), "state": "QUEUED", "replayed": False}
    assert run.deployment == tenant_a.test_deployment and run.trigger == "webhook"
    assert run.parameters == {"day": "2026-11-01", "limit": 10}, "the declared defaults fill what the body omits"
    event = AuditEvent.objects.get(action="run.triggered", object_id=str(run.pk))
    assert event.actor is None and event.actor_label == f"webhook:{hook.pk}"


def test_a_valid_signed_call_creates_exactly_one_run_with_the_payloads_parameters(hook, secret):
    response = deliver(hook, {"day": "2026-12-24", "limit": 3}, secret=secret)
    assert response.status_code == 201, response.json()
    [run] = webhook_runs(hook)
    assert run.parameters == {"day": "2026-12-24", "limit": 3}


def test_an_empty_body_starts_a_run_with_the_declared_parameters(hook, secret):
    response = deliver(hook, raw=b"", bearer=secret)
    assert response.status_code == 201
    assert webhook_runs(hook)[0].parameters == {"day": "2026-01-01", "limit": 10}


def test_without_an_idempotency_key_every_valid_call_starts_a_run(hook, secret):
    for _ in range(2):
        assert deliver(hook, {"limit": 1}, bearer=secret).status_code == 201
    assert len(webhook_runs(hook)) == 2


def test_a_paused_deployment_still_accepts_its_webhook(tenant_a, hook, secret):
    Deployment.objects.filter(pk=tenant_a.test_deployment.pk).update(is_paused=True)
    assert deliver(hook, {}, bearer=secret).status_code == 201
    assert len(webhook_runs(hook)) == 1


# -- refusals: no run -------------------------------------------------------------------------------------------
def test_a_missing_credential_creates_no_run(hook):
    response = deliver(hook, {"day": "2026-11-01"})
    assert response.status_code == 401
    assert response.json()["code"] == "webhook_unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["message"].count("X-Flowyard-Signature") == 1
    assert deliver(hook, {}, Authorization="Basic dXNlcjpwdw==").json()["code"] == "webhook_unauthenticated"
    assert webhook_runs(hook) == []


def test_a_bad_signature_or_token_creates_no_run(hook, secret):
    body = json.dumps({"day": "2026-11-01"}).encode()
    stamp = str(int(time.time()))
    signed_other_body = webhooks.signature_for(secret, stamp, b'{"day": "2026-11-02"}')
    cases = [
        {"bearer": secret + "x"},
        {"bearer": "fyw_" + "a" * 43},
        {"secret": "fyw_not-the-secret"},
        {"X-Flowyard-Timestamp": stamp, "X-Flowyard-Signature": signed_other_body},
        {"X-Flowyard-Timestamp": stamp, "X-Flowyard-Signature": signed_other_body.removeprefix("sha256=")},
        {"X-Flowyard-Timestamp": str(int(stamp) + 1),
         "X-Flowyard-Signature": webhooks.signature_for(secret, stamp, body)},
    ]
    for case in cases:
        response = deliver(hook, raw=body, **case)
        assert response.status_code == 401, case
        assert response.json()["code"] == "webhook_signature_invalid", case
    assert webhook_runs(hook) == []


def test_a_stale_future_or_missing_timestamp_creates_no_run_and_names_the_header(hook, secret):
    now = int(time.time())
    for stamp in (now - webhooks.REPLAY_WINDOW_SECONDS - 5, now + webhooks.REPLAY_WINDOW_SECONDS + 5):
        response = deliver(hook, {}, secret=secret, timestamp=stamp)
        assert response.status_code == 401
        assert response.json()["code"] == "webhook_timestamp_invalid"
        assert "X-Flowyard-Timestamp" in response.json()["message"]
    body = b"{}"
    unstamped = deliver(hook, raw=body, **{"X-Flowyard-Signature": webhooks.signature_for(secret, "", body)})
    assert unstamped.status_code == 401 and "X-Flowyard-Timestamp" in unstamped.json()["message"]
    for odd in ("12.5", "-60", "\u0663" * 10):  # not whole ASCII seconds
        response = deliver(hook, raw=body, **{"X-Flowyard-Timestamp": odd, "X-Flowyard-Signature": "sha256=00"})
        assert response.status_code == 401 and response.json()["code"] == "webhook_timestamp_invalid", odd
    assert webhook_runs(hook) == []
    assert deliver(hook, {}, secret=secret, timestamp=now - 60).status_code == 201, "a little skew is accepted"


def test_undeclared_parameters_are_refused_naming_them_and_start_nothing(hook, secret):
    response = deliver(hook, {"day": "2026-11-01", "colour": "blue"}, bearer=secret, key="k-1")
    assert response.status_code == 400
    assert "colour" in response.json()["message"] and "parameters" in response.json()["extra"]["fields"]
    assert webhook_runs(hook) == [] and not WebhookDelivery.objects.exists()
    assert deliver(hook, {"day": "2026-11-01"}, bearer=secret, key="k-1").status_code == 201, "the key was not spent"


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"2026-11-01"', b"\xff\xfe"], ids=repr)
def test_a_body_that_is_not_a_json_object_is_refused_naming_the_body(hook, secret, raw):
    response = deliver(hook, raw=raw, bearer=secret)
    assert response.status_code == 400
    assert response.json()["extra"]["fields"].keys() == {"body"}
    assert webhook_runs(hook) == []


def test_a_body_over_64_kib_is_refused(hook, secret):
    big = {"day": "x" * (webhooks.MAX_BODY_BYTES + 1)}
    response = deliver(hook, big, bearer=secret)
    assert response.status_code == 413 and response.json()["code"] == "webhook_body_too_large"
    assert webhook_runs(hook) == []


def test_an_unknown_disabled_or_deleted_webhook_answers_404(tenant_a, hook, secret, client_for):
    developer = client_for(tenant_a.users[Role.DEVELOPER])
    assert developer.patch(f"{MANAGE}{hook.pk}/", {"is_enabled": False}, format="json").status_code == 200
    assert deliver(hook, {}, bearer=secret).status_code == 404
    assert developer.patch(f"{MANAGE}{hook.pk}/", {"is_enabled": True}, format="json").status_code == 200
    assert deliver(hook, {}, bearer=secret).status_code == 201
    assert developer.delete(f"{MANAGE}{hook.pk}/").status_code == 204
    response = deliver(hook, {}, bearer=secret)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert len(webhook_runs(hook)) == 1


def test_a_deployment_with_nothing_deployed_answers_409(tenant_a):
    empty = Deployment.objects.create(workflow=tenant_a.empty_workflow, environment=tenant_a.test_env)
    webhook, secret = webhooks.webhook_create(actor=tenant_a.admin, deployment=empty)
    response = deliver(webhook, {}, bearer=secret)
    assert response.status_code == 409 and response.json()["code"] == "nothing_deployed"
    assert not Run.objects.filter(deployment=empty).exists()


# -- idempotency ------------------------------------------------------------------------------------------------
def test_a_replayed_idempotency_key_answers_the_first_run_and_creates_nothing(hook, secret):
    first = deliver(hook, {"day": "2026-11-01"}, bearer=secret, key="order-42")
    assert first.status_code == 201
    replay = deliver(hook, {"day": "2026-11-01"}, secret=secret, key="order-42")
    assert replay.status_code == 200
    assert replay.json() == {**first.json(), "replayed": True}
    reordered = deliver(hook, raw=b'{ "day" : "2026-11-01" }', bearer=secret, key="order-42")
    assert reordered.status_code == 200, "the same JSON object, however it is spaced, is the same body"
    assert len(webhook_runs(hook)) == 1
    assert WebhookDelivery.objects.get(idempotency_key="order-42").run_id == webhook_runs(hook)[0].pk


def test_the_same_idempotency_key_with_another_body_is_refused(hook, secret):
    assert deliver(hook, {"day": "2026-11-01"}, bearer=secret, key="order-42").status_code == 201
    response = deliver(hook, {"day": "2026-11-02"}, bearer=secret, key="order-42")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"
    assert len(webhook_runs(hook)) == 1


def test_a_replay_with_a_bad_signature_is_refused_before_the_key_is_looked_at(hook, secret):
    assert deliver(hook, {}, bearer=secret, key="order-42").status_code == 201
    response = deliver(hook, {}, bearer="fyw_guess", key="order-42")
    assert response.status_code == 401 and "run" not in json.dumps(response.json())


def test_an_oversized_idempotency_key_is_refused_naming_the_header(hook, secret):
    response = deliver(hook, {}, bearer=secret, key="k" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["extra"]["fields"]
    assert webhook_runs(hook) == []


# -- management ---------------------------------------------------------------------------------------------------
def test_the_secret_is_shown_once_and_stored_only_encrypted(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.DEVELOPER])
    created = client.post(MANAGE, {"deployment": str(tenant_a.report_test_deployment.pk)}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("fyw_") and len(secret) > 40
    assert body["url"] == f"http://testserver/api/v1/hooks/{body['id']}/"
    webhook = DeploymentWebhook.objects.get(pk=body["id"])
    assert secret not in webhook.encrypted_secret
    assert secret_cipher().decrypt(webhook.encrypted_secret.encode()).decode() == secret
    for shown in (client.get(f"{MANAGE}{webhook.pk}/"), client.get(MANAGE)):
        assert shown.status_code == 200
        assert secret not in shown.content.decode() and "secret" not in shown.json()
        assert webhook.encrypted_secret not in shown.content.decode()
    events = AuditEvent.objects.filter(object_id=str(webhook.pk))
    assert [event.action for event in events] == ["webhook.created"]
    assert secret not in json.dumps([e.after for e in events]) and "encrypted_secret" not in json.dumps(
        [e.after for e in events])
    assert deliver(webhook, {}, bearer=secret).status_code == 201


def test_rotation_invalidates_the_old_secret(tenant_a, hook, secret, client_for):
    rotated = client_for(tenant_a.users[Role.DEVELOPER]).post(f"{MANAGE}{hook.pk}/rotate/", format="json")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != secret and rotated.json()["url"].endswith(hook_url(hook))
    assert deliver(hook, {}, bearer=secret).status_code == 401
    assert deliver(hook, {}, secret=secret).status_code == 401
    assert deliver(hook, {}, bearer=new).status_code == 201
    assert deliver(hook, {}, secret=new).status_code == 201
    event = AuditEvent.objects.filter(action="webhook.rotated").get()
    assert new not in json.dumps(event.after) and secret not in json.dumps(event.after)


def test_a_deployment_has_one_webhook_a_second_create_says_to_rotate(tenant_a, hook, client_for):
    response = client_for(tenant_a.admin).post(MANAGE, {"deployment": str(tenant_a.test_deployment.pk)}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "webhook_exists"
    assert "rotate" in response.json()["message"]
    assert DeploymentWebhook.objects.filter(deployment=hook.deployment).count() == 1


def test_a_viewer_sees_webhooks_but_cannot_create_rotate_or_delete_them(tenant_a, hook, client_for):
    viewer = client_for(tenant_a.users[Role.VIEWER])
    listed = viewer.get(MANAGE).json()["results"]
    assert [item["id"] for item in listed] == [str(hook.pk)]
    assert listed[0]["workflow_name"] == "etl" and listed[0]["environment_name"] == "test"
    refused = [
        viewer.post(MANAGE, {"deployment": str(tenant_a.report_test_deployment.pk)}, format="json"),
        viewer.post(f"{MANAGE}{hook.pk}/rotate/", format="json"),
        viewer.patch(f"{MANAGE}{hook.pk}/", {"is_enabled": False}, format="json"),
        viewer.delete(f"{MANAGE}{hook.pk}/"),
    ]
    assert [response.status_code for response in refused] == [403, 403, 403, 403]
    assert not DeploymentWebhook.objects.filter(deployment=tenant_a.report_test_deployment).exists()


def test_a_production_webhook_needs_an_admin(tenant_a, client_for):
    body = {"deployment": str(tenant_a.production_deployment.pk)}
    for role in (Role.DEVELOPER, Role.APPROVER):
        response = client_for(tenant_a.users[role]).post(MANAGE, body, format="json")
        assert response.status_code == 403 and "admin" in response.json()["message"]
    created = client_for(tenant_a.admin).post(MANAGE, body, format="json")
    assert created.status_code == 201
    rotate = client_for(tenant_a.users[Role.DEVELOPER]).post(f"{MANAGE}{created.json()['id']}/rotate/", format="json")
    assert rotate.status_code == 403


def test_another_teams_webhook_routes_answer_404(tenant_a, tenant_b, hook, client_for):
    intruder = client_for(tenant_b.admin)
    responses = [
        intruder.get(f"{MANAGE}{hook.pk}/"),
        intruder.post(f"{MANAGE}{hook.pk}/rotate/", format="json"),
        intruder.patch(f"{MANAGE}{hook.pk}/", {"is_enabled": False}, format="json"),
        intruder.delete(f"{MANAGE}{hook.pk}/"),
    ]
    assert [response.status_code for response in responses] == [404, 404, 404, 404]
    assert str(hook.pk) not in intruder.get(MANAGE).content.decode()
    refused = intruder.post(MANAGE, {"deployment": str(tenant_a.report_test_deployment.pk)}, format="json")
    assert refused.status_code == 400 and "deployment" in refused.json()["extra"]["fields"]
    assert DeploymentWebhook.objects.get(pk=hook.pk).is_enabled
    other_secret = tenant_b.extra["webhook_secret"]
    assert deliver(hook, {}, bearer=other_secret).status_code == 401, "another webhook's secret is not this one's"


# -- nothing secret is logged ---------------------------------------------------------------------------------
def test_no_secret_signature_or_token_reaches_a_log_line(tenant_a, hook, secret, client_for, caplog):
    caplog.set_level(logging.DEBUG)
    body = b'{"day": "2026-11-01"}'
    stamp = str(int(time.time()))
    signature = webhooks.signature_for(secret, stamp, body)
    headers = {"X-Flowyard-Timestamp": stamp, "X-Flowyard-Signature": signature}
    deliver(hook, raw=body, **headers, key="log-check")
    deliver(hook, raw=body, **headers, key="log-check")
    deliver(hook, raw=body, bearer=secret)
    deliver(hook, raw=body, bearer=secret + "-wrong")
    deliver(hook, raw=b'{"nope": 1}', bearer=secret)
    deliver(hook, raw=body, secret=secret, timestamp=1)
    rotated = client_for(tenant_a.users[Role.DEVELOPER]).post(f"{MANAGE}{hook.pk}/rotate/", format="json").json()
    assert len(webhook_runs(hook)) == 2
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert caplog.records, "the deliveries were logged at all"
    for value in (secret, signature, signature.removeprefix("sha256="), rotated["secret"]):
        assert value not in logged
