"""Per-project quotas: a config above the cpu or memory quota is refused at registration; only staff set quotas."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from controlplane.core.errors import PermissionDenied
from controlplane.core.models import AuditEvent
from controlplane.tenancy import services as tenancy
from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.states import Role
from flowyard_testkit.writes import registration_body

QUOTA_FIELDS = ("max_cpu_per_run", "max_memory_mib_per_run", "max_concurrent_runs")


def ci(client_for, tenant):
    """An API client holding the tenant's CI token."""
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def set_quotas(tenant, **quotas):
    """Set the tenant's project quotas directly in the database."""
    for name, value in quotas.items():
        setattr(tenant.project, name, value)
    tenant.project.save()


def register(client_for, tenant, **config):
    """Register a branch build of workflow `nightly` with `config` through the CI endpoint."""
    client = ci(client_for, tenant)
    return client.post("/api/v1/registrations/", registration_body(tenant, **config), format="json")


@pytest.fixture
def superuser():
    """A platform superuser in no team."""
    return get_user_model().objects.create_superuser("platform-root", password="pw")


def test_memory_above_the_quota_is_refused_naming_the_field_and_the_quota(tenant_a, client_for, fingerprint):
    set_quotas(tenant_a, max_memory_mib_per_run=2048)
    ci(client_for, tenant_a).post("/api/v1/registrations/", {}, format="json")  # stamps the token's last_used_at
    before = fingerprint()
    response = register(client_for, tenant_a, memory="4Gi")
    assert response.status_code == 400, response.json()
    assert response.json()["extra"]["fields"] == {"config.memory": [
        "4096 MiB is above project alpha-main's quota of 2048 MiB per run; ask platform staff to raise it or lower memory"
    ]}
    assert fingerprint() == before
    assert not WorkflowVersion.objects.filter(image_digest=registration_body(tenant_a)["image_digest"]).exists()


def test_cpu_above_the_quota_in_one_environment_override_is_refused_under_that_environment(
    tenant_a, client_for, fingerprint
):
    set_quotas(tenant_a, max_cpu_per_run=1024, max_memory_mib_per_run=8192)
    ci(client_for, tenant_a).post("/api/v1/registrations/", {}, format="json")
    before = fingerprint()
    response = register(client_for, tenant_a, cpu=512, environments={
        "test": {"cpu": 1024}, "production": {"cpu": 2048, "memory": 8192},
    })
    assert response.status_code == 400, response.json()
    assert response.json()["extra"]["fields"] == {"config.environments.production.cpu": [
        "in environment 'production': 2048 CPU units is above project alpha-main's quota of 1024 CPU units per run; "
        "ask platform staff to raise it or lower cpu"
    ]}
    assert fingerprint() == before


def test_a_base_value_above_the_quota_is_named_once_on_the_base_field(tenant_a, client_for):
    set_quotas(tenant_a, max_memory_mib_per_run=1024)
    response = register(client_for, tenant_a, memory=2048, environments={"production": {"parameters": {"x": 1}}})
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["config.memory"]


def test_the_default_size_counts_against_the_quota(tenant_a, client_for):
    set_quotas(tenant_a, max_cpu_per_run=512)
    response = register(client_for, tenant_a)  # cpu defaults to 1024 units
    assert response.status_code == 400
    assert "1024 CPU units is above" in response.json()["extra"]["fields"]["config.cpu"][0]


def test_a_config_at_its_quotas_is_registered(tenant_a, client_for):
    set_quotas(tenant_a, max_cpu_per_run=1024, max_memory_mib_per_run=4096)
    response = register(client_for, tenant_a, cpu="1", memory=2048, environments={"production": {"memory": "4Gi"}})
    assert response.status_code == 201, response.json()


def test_projects_without_quotas_are_unlimited(tenant_a, client_for):
    response = register(client_for, tenant_a, cpu=16384, memory=122880)
    assert response.status_code == 201, response.json()


def test_another_projects_quota_does_not_apply(tenant_a, tenant_b, client_for):
    set_quotas(tenant_b, max_memory_mib_per_run=512)
    assert register(client_for, tenant_a, memory=4096).status_code == 201


def test_projects_show_their_quotas_to_members(tenant_a, client_for):
    set_quotas(tenant_a, max_cpu_per_run=2048, max_concurrent_runs=4)
    body = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/projects/{tenant_a.project.pk}/").json()
    assert (body["max_cpu_per_run"], body["max_memory_mib_per_run"], body["max_concurrent_runs"]) == (2048, None, 4)


@pytest.mark.parametrize("field", QUOTA_FIELDS)
def test_a_project_admin_cannot_change_their_quotas(tenant_a, client_for, fingerprint, field):
    set_quotas(tenant_a, **{field: 1024})
    before = fingerprint()
    response = client_for(tenant_a.admin).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/", {field: 4096}, format="json"
    )
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert response.json()["message"] == f"Only platform staff may change a project's quotas ({field}); ask them to."
    assert fingerprint() == before


def test_a_project_admin_cannot_lift_a_quota_by_clearing_it(tenant_a, client_for):
    set_quotas(tenant_a, max_memory_mib_per_run=2048)
    response = client_for(tenant_a.admin).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/", {"max_memory_mib_per_run": None}, format="json"
    )
    assert response.status_code == 403
    tenant_a.project.refresh_from_db()
    assert tenant_a.project.max_memory_mib_per_run == 2048


def test_a_project_admin_still_renames_the_project_and_may_resend_unchanged_quotas(tenant_a, client_for):
    set_quotas(tenant_a, max_cpu_per_run=1024)
    response = client_for(tenant_a.admin).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/", {"name": "Renamed", "max_cpu_per_run": 1024}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Renamed" and response.json()["max_cpu_per_run"] == 1024


def test_platform_staff_set_quotas_and_the_change_is_audited(tenant_a, client_for, superuser):
    response = client_for(superuser).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/",
        {"max_cpu_per_run": 2048, "max_memory_mib_per_run": 8192, "max_concurrent_runs": 3}, format="json",
    )
    assert response.status_code == 200, response.json()
    tenant_a.project.refresh_from_db()
    assert (tenant_a.project.max_cpu_per_run, tenant_a.project.max_memory_mib_per_run,
            tenant_a.project.max_concurrent_runs) == (2048, 8192, 3)
    event = AuditEvent.objects.latest("pk")
    assert event.action == "project.updated" and event.actor_label == "platform-root"
    assert event.before["max_cpu_per_run"] is None and event.after["max_cpu_per_run"] == 2048
    cleared = client_for(superuser).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/", {"max_cpu_per_run": None}, format="json"
    )
    assert cleared.status_code == 200 and cleared.json()["max_cpu_per_run"] is None


def test_staff_may_change_quotas_through_the_service_and_project_admins_may_not(tenant_a, staff_user):
    tenancy.project_update(actor=staff_user, project=tenant_a.project, max_concurrent_runs=2)
    tenant_a.project.refresh_from_db()
    assert tenant_a.project.max_concurrent_runs == 2
    with pytest.raises(PermissionDenied):
        tenancy.project_update(actor=tenant_a.admin, project=tenant_a.project, max_concurrent_runs=20)


@pytest.mark.parametrize(("field", "value"), [("max_cpu_per_run", 64), ("max_memory_mib_per_run", 0),
                                              ("max_concurrent_runs", 0), ("max_concurrent_runs", "many")])
def test_a_quota_out_of_range_is_refused_naming_the_field(tenant_a, client_for, superuser, field, value):
    response = client_for(superuser).patch(f"/api/v1/projects/{tenant_a.project.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_platform_staff_set_quotas_through_the_api(tenant_a, client_for, staff_user):
    response = client_for(staff_user).patch(
        f"/api/v1/projects/{tenant_a.project.pk}/", {"max_memory_mib_per_run": 1024}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["max_memory_mib_per_run"] == 1024


def test_the_versions_endpoint_refuses_a_config_above_the_quota_too(tenant_a, client_for, staff_user):
    client_for(staff_user).patch(f"/api/v1/projects/{tenant_a.project.pk}/", {"max_memory_mib_per_run": 1024},
                                 format="json")
    body = {"workflow": str(tenant_a.workflow.pk), "image_ref": "127.0.0.1:5000/etl:big",
            "image_digest": "sha256:" + "b" * 64, "config": {"name": "etl", "memory": 4096}}
    response = client_for(tenant_a.admin).post("/api/v1/versions/", body, format="json")
    assert response.status_code == 400
    assert "config.memory" in response.json()["extra"]["fields"]
