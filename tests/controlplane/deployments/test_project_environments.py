"""A new project gets its `test` and `production` environments from deployments, reacting to `project_created`."""

from __future__ import annotations

import pytest
from django.db import transaction

from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Environment
from controlplane.tenancy.services import project_create

pytestmark = pytest.mark.django_db


def test_a_new_project_has_test_then_production_and_production_requires_approval(tenant_a):
    project = project_create(actor=None, team=tenant_a.team, slug="fresh", name="Fresh")
    environments = list(project.environments.order_by("order").values_list("name", "requires_approval"))
    assert environments == [("test", False), ("production", True)]
    event = AuditEvent.objects.get(action="project.created", object_id=str(project.pk))
    assert event.after["environments"] == ["test", "production"], "the audit event records what was made"


def test_when_the_environments_cannot_be_made_the_project_is_not_made_either(tenant_a, monkeypatch):
    from controlplane.deployments import receivers

    def broken(**kwargs):
        raise RuntimeError("the database refused the environments")

    monkeypatch.setattr(receivers, "environments_create_defaults", broken)
    with pytest.raises(RuntimeError), transaction.atomic():
        project_create(actor=None, team=tenant_a.team, slug="half", name="Half")
    assert not tenant_a.team.projects.filter(slug="half").exists()
    assert not Environment.objects.filter(project__slug="half").exists()
