"""Environment secrets: encrypted at rest, write-only through the API, set and deleted by admins, audited without values."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import connection

from controlplane.core.models import AuditEvent
from controlplane.deployments import secrets
from controlplane.deployments.models import EnvironmentSecret
from controlplane.runs.masking import SecretMasker
from flowyard_testkit.tenants import Tenant
from flowyard_testkit.writes import EXTRA_OBJECT_WRITES, send
from flowyard_spec.states import Role

VALUE = "pa55-WORD/with+chars\"and'quotes"
URL = "/api/v1/secrets/"


@pytest.fixture
def secret(tenant_a: Tenant) -> EnvironmentSecret:
    """DB_PASSWORD of team A's test environment, also at tenant_a.extra['secret']."""
    tenant_a.extra["secret"] = secrets.secret_set(
        actor=tenant_a.admin, environment=tenant_a.test_env, name="DB_PASSWORD", value=VALUE
    )
    return tenant_a.extra["secret"]


def leaks(text: str, value: str = VALUE) -> bool:
    """Whether `text` shows `value` raw, escaped or base64-encoded."""
    forms = {value, json.dumps(value)[1:-1], base64.b64encode(value.encode()).decode().rstrip("=")}
    return any(form in text for form in forms)


# -- roles (the writes on a secret that build_tenant does not make) -----------------------------------------
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("write", EXTRA_OBJECT_WRITES, ids=lambda write: write.id)
def test_a_project_role_may_do_exactly_what_its_rank_allows(write, role, tenant_a, secret, client_for, fingerprint):
    user = tenant_a.users[role]
    events_before = AuditEvent.objects.count()
    before = fingerprint()
    response = send(client_for(user), write, tenant_a)
    if role.includes(write.role):
        assert response.status_code == write.success
        assert AuditEvent.objects.count() == events_before + 1
        event = AuditEvent.objects.latest("pk")
        assert event.actor == user and event.team_id == tenant_a.team.pk
    else:
        assert response.status_code == 403, response.json()
        assert response.json()["code"] == "permission_denied" and write.role.value in response.json()["message"]
        assert fingerprint() == before


@pytest.mark.parametrize("write", EXTRA_OBJECT_WRITES, ids=lambda write: write.id)
def test_a_user_of_another_team_is_refused_without_learning_anything(write, tenant_a, tenant_b, secret, client_for, fingerprint):
    before = fingerprint()
    response = send(client_for(tenant_b.admin), write, tenant_a)
    assert response.status_code == 404
    assert tenant_a.prefix not in str(response.json())
    assert fingerprint() == before
    assert client_for(tenant_b.admin).get(f"{URL}{secret.pk}/").status_code == 404
    assert client_for(tenant_b.admin).get(URL).json()["results"] == []


def test_a_viewer_lists_and_reads_names_but_cannot_write(tenant_a, secret, client_for, fingerprint):
    client = client_for(tenant_a.users[Role.VIEWER])
    listed = client.get(URL)
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["results"]] == ["DB_PASSWORD"]
    detail = client.get(f"{URL}{secret.pk}/").json()
    assert set(detail) == {"id", "environment", "name", "created_at", "updated_at", "created_by_label"}
    assert detail["environment"] == str(tenant_a.test_env.pk) and detail["created_by_label"] == tenant_a.admin.username
    before = fingerprint()
    for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER):
        body = {"environment": str(tenant_a.test_env.pk), "name": "DB_PASSWORD", "value": "overwritten!"}
        response = client_for(tenant_a.users[role]).post(URL, body, format="json")
        assert response.status_code == 403 and response.json()["extra"]["required_role"] == "admin"
    assert fingerprint() == before
    assert client_for(tenant_a.direct_member).get(URL).json()["results"][0]["name"] == "DB_PASSWORD"


def test_ci_tokens_cannot_read_or_write_secrets(tenant_a, secret, client_for):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant_a.ci_token_value}")
    assert client.get(URL).status_code == 403
    body = {"environment": str(tenant_a.test_env.pk), "name": "X_KEY", "value": "value-1234"}
    assert client.post(URL, body, format="json").status_code == 403


def test_there_is_no_patch_a_value_is_replaced_by_posting_again(tenant_a, secret, client_for):
    response = client_for(tenant_a.admin).patch(f"{URL}{secret.pk}/", {"value": "new-value"}, format="json")
    assert response.status_code == 405


def test_lists_filter_by_environment_and_project(tenant_a, secret, client_for):
    other = secrets.secret_set(actor=None, environment=tenant_a.production_env, name="DB_PASSWORD", value="prod-pw-1")
    client = client_for(tenant_a.admin)
    by_env = client.get(URL, {"environment": str(tenant_a.production_env.pk)}).json()["results"]
    assert [item["id"] for item in by_env] == [str(other.pk)]
    assert len(client.get(URL, {"project": str(tenant_a.project.pk)}).json()["results"]) == 2
    assert client.get(URL, {"project": str(tenant_a.empty_project.pk)}).json()["results"] == []
    assert {item["id"] for item in client.get(URL, {"name": "DB_PASSWORD"}).json()["results"]} == {str(secret.pk), str(other.pk)}


# -- the value never comes back -------------------------------------------------------------------------------
def test_the_value_is_in_no_response_no_audit_event_and_not_in_clear_in_the_database(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    body = {"environment": str(tenant_a.test_env.pk), "name": "API_TOKEN", "value": VALUE}
    created = client.post(URL, body, format="json")
    assert created.status_code == 201
    assert "value" not in created.json() and "encrypted_value" not in created.json()
    secret_id = created.json()["id"]
    replaced = client.post(URL, {**body, "value": VALUE + "-2"}, format="json")
    responses = [created, replaced, client.get(URL), client.get(f"{URL}{secret_id}/"),
                 client.get("/api/v1/audit-events/", {"limit": 500})]
    stored = EnvironmentSecret.objects.get(pk=secret_id)
    for response in responses:
        assert response.status_code in (200, 201)
        assert not leaks(response.content.decode()), response.content
        assert stored.encrypted_value not in response.content.decode()
    events = AuditEvent.objects.filter(object_id=secret_id)
    assert [event.action for event in events.order_by("pk")] == ["secret.set", "secret.set"]
    for event in events:
        text = json.dumps([event.before, event.after, event.object_repr, event.actor_label])
        assert not leaks(text) and "encrypted_value" not in text and stored.encrypted_value not in text
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {EnvironmentSecret._meta.db_table}")
        rows = json.dumps([list(map(str, row)) for row in cursor.fetchall()])
    assert not leaks(rows) and not leaks(rows, VALUE + "-2")
    assert stored.encrypted_value.startswith("gAAAA")  # a Fernet token
    assert secrets.decrypt_value(stored) == VALUE + "-2"


def test_an_invalid_request_does_not_echo_the_value(tenant_a, client_for, fingerprint):
    client = client_for(tenant_a.admin)
    before = fingerprint()
    for body, field in [
        ({"environment": str(tenant_a.test_env.pk), "name": "lower_case", "value": VALUE}, "name"),
        ({"environment": str(tenant_a.test_env.pk), "name": "FLOWYARD_RUN_TOKEN", "value": VALUE}, "name"),
        ({"environment": str(tenant_a.test_env.pk), "name": "9LIVES", "value": VALUE}, "name"),
        ({"environment": str(tenant_a.test_env.pk), "name": "EMPTY", "value": ""}, "value"),
        ({"environment": str(tenant_a.test_env.pk), "name": "NUL", "value": VALUE + "\x00"}, "value"),
        ({"environment": str(tenant_a.test_env.pk), "name": "BIG", "value": "é" * (16 * 1024 + 1)}, "value"),
        ({"environment": str(tenant_a.test_env.pk), "name": "NONE"}, "value"),
        ({"name": "NO_ENV", "value": VALUE}, "environment"),
    ]:
        response = client.post(URL, body, format="json")
        assert response.status_code == 400, body["name"]
        assert field in response.json()["extra"]["fields"], response.json()
        assert not leaks(response.content.decode()) and "éé" not in response.content.decode()
    assert fingerprint() == before


def test_values_up_to_32_kib_are_kept_exactly_whitespace_included(tenant_a, client_for):
    client = client_for(tenant_a.admin)
    head, tail = "-----BEGIN KEY-----\n", "\n-----END KEY-----\n  "
    value = head + "k" * (32 * 1024 - len(head) - len(tail)) + tail
    assert len(value.encode()) == 32 * 1024
    body = {"environment": str(tenant_a.test_env.pk), "name": "TLS_KEY", "value": value}
    assert client.post(URL, body, format="json").status_code == 201
    assert secrets.environment_secret_values(tenant_a.test_env) == {"TLS_KEY": value}


# -- set, replace, delete -------------------------------------------------------------------------------------
def test_posting_again_replaces_the_value_and_keeps_the_secret(tenant_a, secret, client_for):
    client = client_for(tenant_a.admin)
    events_before = AuditEvent.objects.count()
    body = {"environment": str(tenant_a.test_env.pk), "name": "DB_PASSWORD", "value": "the-new-one"}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201 and response.json()["id"] == str(secret.pk)
    assert EnvironmentSecret.objects.filter(environment=tenant_a.test_env).count() == 1
    secret.refresh_from_db()
    assert secrets.decrypt_value(secret) == "the-new-one"
    assert secret.created_by_label == tenant_a.admin.username
    event = AuditEvent.objects.latest("pk")
    assert AuditEvent.objects.count() == events_before + 1
    assert event.action == "secret.set" and event.before is not None and event.project_id == tenant_a.project.pk
    assert event.before["name"] == event.after["name"] == "DB_PASSWORD"
    # The same value again changes nothing and records nothing.
    assert client.post(URL, body, format="json").status_code == 201
    assert AuditEvent.objects.count() == events_before + 1


def test_the_same_name_may_exist_once_per_environment(tenant_a):
    one = secrets.secret_set(actor=None, environment=tenant_a.test_env, name="TOKEN", value="value-test")
    two = secrets.secret_set(actor=None, environment=tenant_a.production_env, name="TOKEN", value="value-prod")
    assert one.pk != two.pk
    assert secrets.environment_secret_values(tenant_a.test_env) == {"TOKEN": "value-test"}
    assert secrets.environment_secret_values(tenant_a.production_env) == {"TOKEN": "value-prod"}


def test_delete_removes_the_secret_and_records_it(tenant_a, secret, client_for):
    response = client_for(tenant_a.admin).delete(f"{URL}{secret.pk}/")
    assert response.status_code == 204
    assert not EnvironmentSecret.objects.filter(pk=secret.pk).exists()
    event = AuditEvent.objects.latest("pk")
    assert event.action == "secret.deleted" and event.before["name"] == "DB_PASSWORD" and event.after is None
    assert secrets.environment_secret_values(tenant_a.test_env) == {}


def test_deleting_an_environment_deletes_its_secrets(tenant_a, client_for):
    secrets.secret_set(actor=None, environment=tenant_a.extra_env, name="SANDBOX_KEY", value="sandbox-1")
    assert client_for(tenant_a.admin).delete(f"/api/v1/environments/{tenant_a.extra_env.pk}/").status_code == 204
    assert not EnvironmentSecret.objects.filter(name="SANDBOX_KEY").exists()


# -- encryption and the launcher's read --------------------------------------------------------------------
def test_encryption_round_trip_and_fresh_ciphertext_each_time(tenant_a):
    for value in ("abcd", "ünïcødé ✓ 🔑", "line1\nline2\n", " spaced ", "x" * 32768):
        first, second = secrets.encrypt_value(value), secrets.encrypt_value(value)
        assert first != second and value not in first
        secret = EnvironmentSecret(environment=tenant_a.test_env, name="X", encrypted_value=first)
        assert secrets.decrypt_value(secret) == value


def test_the_key_is_derived_from_the_installation_secret_key(tenant_a, secret, monkeypatch):
    expected = secrets.derive_key(settings.FLOWYARD.secret_key)
    assert Fernet(expected).decrypt(secret.encrypted_value.encode()).decode() == VALUE
    assert secrets.derive_key("another key") != expected and len(base64.urlsafe_b64decode(expected)) == 32
    monkeypatch.setattr(settings, "FLOWYARD", settings.FLOWYARD.model_copy(update={"secret_key": "k" * 60}))
    with pytest.raises(secrets.SecretUndecryptable) as refused:
        secrets.environment_secret_values(tenant_a.test_env)
    assert "DB_PASSWORD" in refused.value.message and VALUE not in refused.value.message
    assert refused.value.code == "secret_undecryptable"


def test_explicit_keys_encrypt_with_the_first_and_decrypt_with_any(secret):
    explicit = Fernet.generate_key()
    cipher = secrets.secret_cipher(keys=[explicit, secrets.derive_key(settings.FLOWYARD.secret_key)])
    assert isinstance(cipher, MultiFernet)
    assert cipher.decrypt(secret.encrypted_value.encode()).decode() == VALUE  # old rows still readable
    rotated = cipher.rotate(secret.encrypted_value.encode())
    assert Fernet(explicit).decrypt(rotated).decode() == VALUE


def test_environment_secret_values_for_the_launcher(tenant_a, secret):
    secrets.secret_set(actor=None, environment=tenant_a.test_env, name="API_KEY", value="key-1234")
    assert secrets.environment_secret_values(tenant_a.test_env) == {"API_KEY": "key-1234", "DB_PASSWORD": VALUE}
    assert secrets.environment_secret_values(tenant_a.test_env, names=["API_KEY"]) == {"API_KEY": "key-1234"}
    with pytest.raises(secrets.SecretsMissing) as missing:
        secrets.environment_secret_values(tenant_a.test_env, names=["API_KEY", "S3_KEY", "OTHER"])
    assert missing.value.extra["missing"] == ["OTHER", "S3_KEY"]
    assert secrets.environment_secret_values(tenant_a.production_env) == {}
    masker = SecretMasker(secrets.environment_secret_values(tenant_a.test_env).values())
    assert masker.mask(f"password={VALUE} key=key-1234") == "password=*** key=***"


def test_services_validate_like_the_api(tenant_a):
    from controlplane.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        secrets.secret_set(actor=None, environment=tenant_a.test_env, name="bad name", value="")
    assert set(refused.value.extra["fields"]) == {"name", "value"}
    assert not EnvironmentSecret.objects.exists()
