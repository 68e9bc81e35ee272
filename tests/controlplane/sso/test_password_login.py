"""Password sign-in: allowed by default, only for break-glass superusers under FLOWYARD_SSO_ONLY; always audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from controlplane.core.models import AuditEvent


@pytest.fixture
def people():
    """A regular person and a superuser, both with passwords."""
    User = get_user_model()
    return User.objects.create_user("dev", password="dev-pass-123"), User.objects.create_superuser("root", password="root-pass-123")


@pytest.fixture
def sso_only(settings):
    """FLOWYARD_SSO_ONLY=1 with a provider configured."""
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={
        "sso_only": True, "oidc_issuer": "https://idp.example.invalid", "oidc_client_id": "flowyard"})


def test_the_login_page_signs_a_person_in_with_a_password_and_audits_it(people, client):
    response = client.post("/auth/login/", {"username": "dev", "password": "dev-pass-123", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="auth.login", object_repr="dev").exists()


def test_a_wrong_password_is_refused_and_audited_without_the_password(people, client):
    response = client.post("/auth/login/", {"username": "dev", "password": "guess"})
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.object_repr == "dev" and "guess" not in str(event.after)


def test_sso_only_refuses_passwords_for_everyone_but_superusers(people, client, sso_only):
    page = client.get("/auth/login/").content.decode()
    assert "Sign in with SSO" in page and "Break-glass" in page
    assert client.post("/auth/login/", {"username": "dev", "password": "dev-pass-123"}).status_code == 400
    assert client.post("/auth/login/", {"username": "root", "password": "root-pass-123"}).status_code == 302


def test_a_redirect_after_sign_in_never_leaves_the_site(people, client):
    response = client.post("/auth/login/", {"username": "dev", "password": "dev-pass-123",
                                            "next": "https://evil.example.invalid/"})
    assert response["Location"] == "/"
