"""Fixtures for control plane tests: two tenants, API clients, and a database fingerprint."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from flowyard_testkit.tenants import Tenant, build_tenant


@pytest.fixture(autouse=True)
def _database(db):
    """Every control plane test may use the database."""


@pytest.fixture
def tenant_a() -> Tenant:
    """Team A with everything it owns."""
    return build_tenant("alpha")


@pytest.fixture
def tenant_b() -> Tenant:
    """Team B with everything it owns: A must never see any of it."""
    return build_tenant("bravo")


@pytest.fixture
def staff_user():
    """A platform staff member (manages teams) who is in no team."""
    return get_user_model().objects.create_user("platform-staff", password="pw", is_staff=True)


@pytest.fixture
def client_for():
    """`client_for(user)` is an API client authenticated as `user` (None: anonymous)."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


FINGERPRINT_APPS = ("core", "tenancy", "workflows", "deployments", "runs", "scheduling", "auth", "guardian")


def db_fingerprint() -> dict[str, list[tuple]]:
    """Every row of every Flowyard, auth and guardian table, to prove a refused request wrote nothing."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in FINGERPRINT_APPS:
            rows[model._meta.label] = sorted(map(repr, model.objects.values_list()))
            for m2m in model._meta.local_many_to_many:
                through = m2m.remote_field.through
                rows[through._meta.label] = sorted(map(repr, through.objects.values_list()))
    return rows


@pytest.fixture
def fingerprint():
    """The db_fingerprint function."""
    return db_fingerprint
