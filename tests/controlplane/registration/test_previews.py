"""A merge request's pipeline gets its own preview environment `mr-<number>`: made by its first pipeline within the
project's limit, using test's secrets and runtime (never production's), never on a schedule, and torn down — runs
cancelled, nothing deployed, history kept — by `flowyard ci teardown` or after the project's TTL."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from controlplane.core.models import AuditEvent
from controlplane.deployments.models import Deployment, Environment, ReleaseRules
from controlplane.deployments.secrets import environment_secret_values, secret_set
from controlplane.registration.tasks import expire_previews
from controlplane.runs.models import Run
from controlplane.runs.services import run_trigger
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import target_for_environment
from controlplane.scheduling.ticks import effective_schedule
from controlplane.workflows.models import WorkflowVersion
from flowyard_spec.states import Role
from flowyard_testkit.writes import registration_body

MR_URL = "https://gitlab.example.com/data/nightly/-/merge_requests/12"


def ci(client_for, tenant):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.ci_token_value}")
    return client


def merge_request_build(tenant, *, iid=12, seed="mr-build-1", **extra):
    body = registration_body(tenant, seed=seed) | {
        "event": "merge_request", "merge_request_iid": iid, "merge_request_url": MR_URL.replace("/12", f"/{iid}"),
        "git_branch": "feature/greet", "git_author": "ada", **extra}
    body["config"].pop("cloud-execution-environment")  # whatever target test has runs it
    return body


def register(client_for, tenant, body):
    return ci(client_for, tenant).post("/api/v1/registrations/", body, format="json")


def teardown(client_for, tenant, iid=12):
    return ci(client_for, tenant).post("/api/v1/previews/teardown/",
                                       {"project": tenant.project.slug, "merge_request_iid": iid}, format="json")


def test_a_merge_request_build_gets_its_own_preview_labelled_with_the_merge_request(tenant_a, client_for):
    response = register(client_for, tenant_a, merge_request_build(tenant_a))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deployment"]["environment_name"] == "mr-12"
    assert "preview" in body["why"]
    preview = Environment.objects.get(project=tenant_a.project, name="mr-12")
    assert (preview.kind, preview.base_environment, preview.requires_approval) == ("preview", tenant_a.test_env, False)
    assert (preview.merge_request_iid, preview.merge_request_url, preview.source_branch, preview.author) == (
        12, MR_URL, "feature/greet", "ada")
    assert not Deployment.objects.filter(environment=tenant_a.test_env, version_id=body["version"]["id"]).exists(), \
        "test keeps what it ran"
    assert AuditEvent.objects.filter(action="environment.preview_created", object_id=str(preview.pk)).exists()


def test_running_the_same_merge_request_pipeline_again_changes_nothing(tenant_a, client_for):
    first = register(client_for, tenant_a, merge_request_build(tenant_a)).json()
    environments, audit = Environment.objects.count(), AuditEvent.objects.count()
    again = register(client_for, tenant_a, merge_request_build(tenant_a))
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["deployment"]["id"] == first["deployment"]["id"]
    assert (Environment.objects.count(), AuditEvent.objects.count()) == (environments, audit)


def test_a_new_commit_on_the_merge_request_replaces_the_build_in_its_preview(tenant_a, client_for):
    first = register(client_for, tenant_a, merge_request_build(tenant_a)).json()
    second = register(client_for, tenant_a, merge_request_build(tenant_a, seed="mr-build-2", git_commit_sha="b" * 40))
    assert second.status_code == 201
    assert second.json()["deployment"]["id"] == first["deployment"]["id"]
    deployment = Deployment.objects.get(pk=first["deployment"]["id"])
    assert deployment.version.git_commit_sha == "b" * 40


def test_the_preview_limit_names_itself_and_stores_nothing(tenant_a, client_for):
    ReleaseRules.objects.filter(project=tenant_a.project).update(preview_limit=1)  # mr-7 is live already
    versions, environments = WorkflowVersion.objects.count(), Environment.objects.count()
    response = register(client_for, tenant_a, merge_request_build(tenant_a))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "preview_limit"
    assert "preview_limit of 1" in body["message"] and "mr-7" in body["message"]
    assert body["extra"] == {"preview_limit": 1, "live_previews": ["mr-7"]}
    assert (WorkflowVersion.objects.count(), Environment.objects.count()) == (versions, environments)


def test_a_preview_uses_tests_secrets_and_runtime_never_productions(tenant_a):
    secret_set(actor=None, environment=tenant_a.test_env, name="DB_PASSWORD", value="test-password")
    secret_set(actor=None, environment=tenant_a.production_env, name="DB_PASSWORD", value="production-password")
    docker = RuntimeTarget.objects.create(name="test-docker", kind="docker")
    Environment.objects.filter(pk=tenant_a.test_env.pk).update(runtime=docker)
    preview = Environment.objects.get(pk=tenant_a.extra["preview"].pk)
    assert environment_secret_values(preview) == {"DB_PASSWORD": "test-password"}
    assert target_for_environment(preview) == docker


def test_a_preview_never_fires_its_schedule_even_where_test_does(tenant_a, client_for):
    body = merge_request_build(tenant_a)
    body["config"]["environments"] = {"test": {"schedule-enabled": True}}
    deployment = Deployment.objects.get(pk=register(client_for, tenant_a, body).json()["deployment"]["id"])
    schedule = effective_schedule(deployment)
    assert not schedule.active and "preview" in schedule.why_inactive


def test_tearing_down_cancels_live_runs_undeploys_and_keeps_history(tenant_a, client_for):
    deployment = Deployment.objects.get(pk=register(client_for, tenant_a, merge_request_build(tenant_a)).json()
                                        ["deployment"]["id"])
    run = run_trigger(actor=tenant_a.users[Role.DEVELOPER], deployment=deployment)
    response = teardown(client_for, tenant_a)
    assert response.status_code == 200, response.json()
    assert response.json()["torn_down_at"] is not None
    run.refresh_from_db()
    deployment.refresh_from_db()
    assert run.state == "CANCELLED", "its run is cancelled, and kept"
    assert deployment.version is None
    event = AuditEvent.objects.get(action="environment.preview_torn_down", object_id=str(deployment.environment_id))
    assert event.after["cancelled_runs"] == [str(run.pk)] and event.after["undeployed"] == ["nightly"]
    refused = client_for(tenant_a.users[Role.DEVELOPER]).post("/api/v1/runs/", {"deployment": str(deployment.pk)}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "nothing_deployed"
    again = teardown(client_for, tenant_a)
    assert again.status_code == 200 and again.json()["torn_down_at"] == response.json()["torn_down_at"]


def test_tearing_down_a_merge_request_without_a_preview_answers_404(tenant_a, client_for):
    response = teardown(client_for, tenant_a, iid=404)
    assert response.status_code == 404 and "mr-404" in response.json()["message"]


def test_another_projects_ci_token_cannot_tear_down_a_preview(tenant_a, tenant_b, client_for):
    response = ci(client_for, tenant_b).post("/api/v1/previews/teardown/",
                                             {"project": tenant_a.project.slug, "merge_request_iid": 7}, format="json")
    assert response.status_code in (400, 403, 404)
    assert Environment.objects.get(pk=tenant_a.extra["preview"].pk).torn_down_at is None


def test_a_pipeline_after_teardown_brings_the_preview_back(tenant_a, client_for):
    register(client_for, tenant_a, merge_request_build(tenant_a))
    teardown(client_for, tenant_a)
    response = register(client_for, tenant_a, merge_request_build(tenant_a, seed="reopened", git_commit_sha="c" * 40))
    assert response.status_code == 201
    preview = Environment.objects.get(project=tenant_a.project, name="mr-12")
    assert preview.torn_down_at is None
    assert Deployment.objects.get(pk=response.json()["deployment"]["id"]).version.git_commit_sha == "c" * 40


def test_previews_past_their_ttl_are_torn_down_by_the_periodic_task(tenant_a, client_for):
    register(client_for, tenant_a, merge_request_build(tenant_a))
    stale = tenant_a.extra["preview"]  # mr-7
    Environment.objects.filter(pk=stale.pk).update(last_pipeline_at=timezone.now() - timedelta(days=8))
    assert expire_previews() == [str(stale)]
    assert Environment.objects.get(pk=stale.pk).torn_down_at is not None
    assert Environment.objects.get(project=tenant_a.project, name="mr-12").torn_down_at is None, "a fresh one stays"
    assert expire_previews() == [], "each preview is torn down once"


def test_ci_never_deploys_to_an_environment_that_requires_approval_and_the_refusal_is_audited(tenant_a, client_for):
    Environment.objects.filter(pk=tenant_a.test_env.pk).update(requires_approval=True)  # test made protected later
    versions = WorkflowVersion.objects.count()
    response = register(client_for, tenant_a, registration_body(tenant_a))
    assert response.status_code == 403 and response.json()["code"] == "protected_environment"
    assert "approved promotion" in response.json()["message"]
    assert WorkflowVersion.objects.count() == versions
    refusal = AuditEvent.objects.get(action="deployment.refused")
    assert refusal.actor_label.startswith("ci-token:") and refusal.after["environment"] == "test"


def test_a_project_admin_turns_branch_deployments_off_and_branch_builds_are_then_registered_only(tenant_a, client_for):
    rules = tenant_a.extra["release_rules"]
    changed = client_for(tenant_a.admin).patch(f"/api/v1/release-rules/{rules.pk}/", {"branch_environment": ""},
                                               format="json")
    assert changed.status_code == 200 and changed.json()["branch_environment"] == ""
    response = register(client_for, tenant_a, registration_body(tenant_a))
    assert response.status_code == 201
    assert response.json()["deployment"] is None and "deploy no branch build" in response.json()["why"]


def test_release_rules_never_point_ci_at_production(tenant_a, client_for):
    rules = tenant_a.extra["release_rules"]
    response = client_for(tenant_a.admin).patch(f"/api/v1/release-rules/{rules.pk}/",
                                                {"branch_environment": "production"}, format="json")
    assert response.status_code == 400
    assert "requires approval" in response.json()["extra"]["fields"]["branch_environment"][0]
    assert ReleaseRules.objects.get(pk=rules.pk).branch_environment == "test"


def test_a_preview_promotes_from_tests_place_and_is_never_a_promotion_target(tenant_a, client_for):
    preview = tenant_a.extra["preview"]
    Deployment.objects.create(workflow=tenant_a.report, environment=preview, version=tenant_a.report_v1)
    developer = client_for(tenant_a.users[Role.DEVELOPER])
    to_preview = developer.post("/api/v1/promotions/", {
        "workflow": str(tenant_a.report.pk), "source_environment": str(tenant_a.test_env.pk),
        "target_environment": str(preview.pk)}, format="json")
    assert to_preview.status_code == 400
    assert "preview" in to_preview.json()["extra"]["fields"]["target_environment"][0]
    from_preview = developer.post("/api/v1/promotions/", {
        "workflow": str(tenant_a.report.pk), "source_environment": str(preview.pk),
        "target_environment": str(tenant_a.production_env.pk),
        "merge_request_url": preview.merge_request_url}, format="json")
    assert from_preview.status_code == 201, from_preview.json()
    assert from_preview.json()["version"] == str(tenant_a.report_v1.pk), "what ran in the preview"
