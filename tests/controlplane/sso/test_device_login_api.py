"""The CLI login API without a provider, and its rate limit: nobody is signed in when `flowyard login` calls it."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counts live in the cache: start and leave it empty, so other tests' calls are not counted."""
    cache.clear()
    yield
    cache.clear()


def test_without_a_provider_both_endpoints_say_sso_is_not_configured(client_for):
    client = client_for(None)
    started = client.post("/api/v1/auth/device/", {}, format="json")
    assert started.status_code == 404 and started.json()["code"] == "sso_not_configured"
    polled = client.post("/api/v1/auth/device/token/", {"device_code": "anything"}, format="json")
    assert polled.status_code == 404 and "FLOWYARD_OIDC_ISSUER" in polled.json()["message"]


def test_a_client_calling_too_often_is_told_to_wait_and_a_forged_forwarded_address_changes_nothing(client_for):
    client = client_for(None)
    for _ in range(120):
        assert client.post("/api/v1/auth/device/", {}, format="json").status_code == 404
    refused = client.post("/api/v1/auth/device/", {}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
