"""Registration refuses a version whose `triggers.on_success` would close a loop, naming it; nothing is stored."""

from __future__ import annotations

import pytest

from controlplane.core.errors import ValidationFailed
from controlplane.scheduling.grants import trigger_grant_create
from controlplane.scheduling.models import TriggerGrant
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_testkit.tenants import Tenant, digest
from flowyard_testkit.writes import registration_body

FIELD = "config.triggers.on_success"


@pytest.fixture
def register(tenant_a: Tenant, client_for):
    """`register(name, on_success, project=..., **config)` registers a branch build through the API; the response."""
    client = client_for(tenant_a.admin)
    builds = iter(range(1000))

    def send(name: str, on_success: list[str], *, project=None, **config):
        body = registration_body(tenant_a, name=name, seed=f"build-{next(builds)}",
                                 triggers={"on_success": on_success}, **config)
        if project is not None:
            body["project"] = project.slug
        return client.post("/api/v1/registrations/", body, format="json")

    return send


def refusal(response) -> str:
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid" and FIELD in body["message"]
    (message,) = body["extra"]["fields"][FIELD]
    return message


def test_a_two_workflow_loop_is_refused_naming_it_and_nothing_is_stored(register):
    assert register("a", ["b"]).status_code == 201
    versions = WorkflowVersion.objects.count()
    message = refusal(register("b", ["a"]))
    assert "These triggers would make a loop: b → a → b." in message
    assert WorkflowVersion.objects.count() == versions
    assert not Workflow.objects.filter(name="b").exists(), "the workflow a refused first build would create is not kept"


def test_a_three_workflow_loop_is_refused_naming_every_step(register):
    assert register("a", ["b"]).status_code == 201
    assert register("b", ["c"]).status_code == 201
    assert "c → a → b → c" in refusal(register("c", ["a"]))
    assert register("c", ["d"]).status_code == 201, "a chain without a loop is fine"


def test_a_project_naming_itself_by_slug_is_still_the_same_workflow(tenant_a, register):
    assert "a → a" in refusal(register("a", [f"{tenant_a.project.slug}/a"]))


def test_triggers_of_an_environment_override_count(register):
    assert register("a", [], environments={"production": {"triggers": {"on_success": ["b"]}}}).status_code == 201
    assert "b → a → b" in refusal(register("b", ["a"]))


def test_a_version_deployed_somewhere_counts_even_when_a_newer_one_dropped_the_trigger(tenant_a, register):
    from controlplane.deployments import services as deployments

    first = register("a", ["b"]).json()
    assert register("a", []).status_code == 201  # the newest version of a no longer triggers b
    version = WorkflowVersion.objects.get(pk=first["version"]["id"])
    deployments.deployment_set(actor=None, workflow=version.workflow, environment=tenant_a.production_env,
                               version=version)
    assert "b → a → b" in refusal(register("b", ["a"]))


def test_a_known_digest_registered_again_answers_the_existing_version_even_if_a_loop_appeared_since(
    tenant_a, client_for
):
    main, other = tenant_a.project, tenant_a.empty_project
    client = client_for(tenant_a.admin)
    b_body = registration_body(tenant_a, name="b", seed="b1", triggers={"on_success": [f"{other.slug}/a"]})
    a_body = registration_body(tenant_a, name="a", seed="a1", triggers={"on_success": [f"{main.slug}/b"]})
    a_body["project"] = other.slug
    if not TriggerGrant.objects.filter(project=main, upstream_project=other).exists():
        trigger_grant_create(actor=tenant_a.admin, project=main, upstream_project=other)
    assert client.post("/api/v1/registrations/", b_body, format="json").status_code == 201
    assert client.post("/api/v1/registrations/", a_body, format="json").status_code == 201, "main/b → a not granted"
    trigger_grant_create(actor=tenant_a.admin, project=other, upstream_project=main)  # now a loop exists
    again = client.post("/api/v1/registrations/", b_body, format="json")
    assert again.status_code == 200 and again.json()["created"] is False


def test_a_loop_through_another_project_counts_only_where_it_was_granted(tenant_a, register):
    main, other = tenant_a.project, tenant_a.empty_project
    assert register("a", [f"{other.slug}/b"]).status_code == 201
    TriggerGrant.objects.filter(project=main, upstream_project=other).delete()
    assert register("b", [f"{main.slug}/a"], project=other).status_code == 201, "neither edge is granted: no loop"
    trigger_grant_create(actor=tenant_a.admin, project=main, upstream_project=other)
    trigger_grant_create(actor=tenant_a.admin, project=other, upstream_project=main)
    message = refusal(register("b", [f"{main.slug}/a", "c"], project=other))
    assert f"b → {main.slug}/a → b" in message, "named as the registering project's people write them"


def test_registering_by_workflow_id_is_checked_too(tenant_a):
    a = Workflow.objects.create(project=tenant_a.project, name="a")
    b = Workflow.objects.create(project=tenant_a.project, name="b")
    register_version(workflow=a, image_digest=digest("a1"), image_ref="r/a:1",
                               config={"name": "a", "triggers": {"on_success": ["b"]}})
    with pytest.raises(ValidationFailed) as refused:
        register_version(workflow=b, image_digest=digest("b1"), image_ref="r/b:1",
                                   config={"name": "b", "triggers": {"on_success": ["a"]}})
    assert "b → a → b" in refused.value.extra["fields"][FIELD][0]
    assert not b.versions.exists()


def test_the_versions_endpoint_refuses_a_loop_with_the_field_named(tenant_a, client_for):
    a = Workflow.objects.create(project=tenant_a.project, name="a")
    b = Workflow.objects.create(project=tenant_a.project, name="b")
    register_version(workflow=a, image_digest=digest("a1"), image_ref="r/a:1",
                               config={"name": "a", "triggers": {"on_success": ["b"]}})
    response = client_for(tenant_a.admin).post("/api/v1/versions/", {
        "workflow": str(b.pk), "image_ref": "r/b:1", "image_digest": digest("b1"),
        "config": {"name": "b", "triggers": {"on_success": ["a"]}},
    }, format="json")
    assert "b → a → b" in refusal(response)
    assert not b.versions.exists()
