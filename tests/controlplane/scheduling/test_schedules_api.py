"""The schedules API: what the scheduler will do for each deployment, its next five ticks, pause and resume."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from controlplane.deployments import services as deployments
from controlplane.runs.models import Run
from controlplane.scheduling.scheduler import fire_due_schedules
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import digest
from flowyard_spec.states import Role


def deploy_scheduled(tenant, *, schedule="cron(0 6 * * ? *)", tz="Europe/Paris", environment=None, **config):
    """A nightly workflow deployed to production (or `environment`); the deployment."""
    workflow = workflows.workflow_create(actor=None, project=tenant.project, name="nightly")
    version = register_version(
        workflow=workflow, image_ref="127.0.0.1:5000/a/nightly:1", image_digest=digest("nightly"),
        config={"name": "nightly", "schedule-enabled": True, "schedule": schedule, "timezone": tz, **config},
    )
    return deployments.deployment_set(actor=None, workflow=workflow, environment=environment or tenant.production_env,
                                      version=version)


def test_a_schedule_shows_its_expression_policy_and_next_five_ticks(tenant_a, client_for):
    deployment = deploy_scheduled(tenant_a, **{"catch-up": "latest"})
    body = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/schedules/{deployment.pk}/").json()

    assert body["expression"] == "cron(0 6 * * ? *)" and body["timezone"] == "Europe/Paris"
    assert body["active"] is True and body["why_inactive"] == ""
    assert body["catch_up"] == "latest" and body["catch_up_max"] == 10 and body["start_deadline_seconds"] == 60
    ticks = [datetime.fromisoformat(value) for value in body["next_fire_times"]]
    assert len(ticks) == 5 and ticks == sorted(ticks) and ticks[0] > datetime.now(timezone.utc)
    assert all(tick.astimezone(timezone(timedelta(hours=1))).hour == 6 for tick in ticks)  # 06:00 CET in winter


def test_an_inactive_schedule_says_why_and_lists_no_ticks(tenant_a, client_for):
    deployment = deploy_scheduled(tenant_a, environment=tenant_a.test_env)
    body = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/schedules/{deployment.pk}/").json()
    assert body["active"] is False and body["next_fire_times"] == []
    assert "environments.test sets schedule-enabled: true" in body["why_inactive"]


def test_the_list_shows_every_deployment_the_caller_can_see_and_filters_by_environment(tenant_a, client_for):
    deploy_scheduled(tenant_a)
    client = client_for(tenant_a.users[Role.VIEWER])
    everything = client.get("/api/v1/schedules/").json()["results"]
    production = client.get("/api/v1/schedules/", {"environment_name": "production"}).json()["results"]
    assert {item["workflow_name"] for item in production} == {"etl", "nightly"}
    assert len(everything) > len(production)
    assert [item["active"] for item in production if item["workflow_name"] == "etl"] == [False]


def test_pause_stops_ticks_and_resume_starts_from_now_without_replaying(tenant_a, client_for):
    deployment = deploy_scheduled(tenant_a, schedule="rate(1 hour)", tz="UTC", **{"catch-up": "all"})
    admin = client_for(tenant_a.admin)
    t0 = datetime(2026, 11, 2, 10, 0, 30, tzinfo=timezone.utc)
    fire_due_schedules(now=t0)

    paused = admin.post(f"/api/v1/schedules/{deployment.pk}/pause/")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    assert paused.json()["active"] is False and paused.json()["why_inactive"] == "the schedule is paused"
    fire_due_schedules(now=t0 + timedelta(hours=3))
    assert not Run.objects.filter(deployment=deployment).exists()

    resumed = admin.post(f"/api/v1/schedules/{deployment.pk}/resume/")
    assert resumed.status_code == 200 and resumed.json()["active"] is True
    fire_due_schedules(now=t0 + timedelta(hours=3, minutes=1))
    fire_due_schedules(now=t0 + timedelta(hours=4, minutes=1))
    assert Run.objects.filter(deployment=deployment).count() == 1


def test_a_developer_may_not_pause_a_production_schedule(tenant_a, client_for):
    deployment = deploy_scheduled(tenant_a)
    response = client_for(tenant_a.users[Role.DEVELOPER]).post(f"/api/v1/schedules/{deployment.pk}/pause/")
    assert response.status_code == 403 and "admin" in response.json()["message"]
    deployment.refresh_from_db()
    assert deployment.is_paused is False


def test_another_teams_schedule_is_not_found(tenant_a, tenant_b, client_for):
    deployment = deploy_scheduled(tenant_b)
    client = client_for(tenant_a.admin)
    assert client.get(f"/api/v1/schedules/{deployment.pk}/").status_code == 404
    assert client.post(f"/api/v1/schedules/{deployment.pk}/pause/").status_code == 404
    deployment.refresh_from_db()
    assert deployment.is_paused is False
