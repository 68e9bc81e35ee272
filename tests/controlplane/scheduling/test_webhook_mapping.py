"""Webhook payload mapping through the API: a mapping is checked against the workflow's parameters when it is
saved, and a signed delivery of a forge's event (a GitLab push) starts a run with the mapped, typed values; a
pointer with nothing behind it or a value of the wrong type is refused, naming the parameter, and starts nothing."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from django.test import Client

from controlplane.core.models import AuditEvent
from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment
from controlplane.runs.models import Run
from controlplane.scheduling import webhooks
from controlplane.scheduling.models import DeploymentWebhook, WebhookDelivery
from flowyard_testkit.registration import register_version
from flowyard_testkit.tenants import Tenant, digest
from flowyard_spec.states import Role

MANAGE = "/api/v1/webhooks/"
PARAMETERS = {"project": "", "ref": "main", "commit": "", "commits": 0, "label": "", "since": None, "limit": 10}
PUSH_MAPPING = {
    "project": "/project/path_with_namespace",
    "ref": "/ref",
    "commit": "/checkout_sha",
    "commits": "/total_commits_count",
    "label": "push-{{ /project_id }}-{{ /user_username }}",
    "since": "/before",
}
# The parts of a GitLab "Push Hook" body the mapping reads, and some it does not.
GITLAB_PUSH = {
    "object_kind": "push", "event_name": "push",
    "before": "95790bf891e76fee5e1747ab589903a6a1f80f22", "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "ref": "refs/heads/feature/orders", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "user_username": "jsmith", "project_id": 15,
    "project": {"id": 15, "name": "etl", "path_with_namespace": "data/etl", "default_branch": "main"},
    "commits": [{"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "message": "Load orders"}],
    "total_commits_count": 4,
}


def register_and_deploy(tenant: Tenant, parameters: dict, seed: str) -> Deployment:
    """Register a version of tenant's `ingest` workflow declaring `parameters`, deploy it to test, return the deployment."""
    version = register_version(
        actor=tenant.users[Role.DEVELOPER], workflow=tenant.ingest, image_digest=digest(seed),
        image_ref=f"127.0.0.1:5000/{seed}/ingest:1", git_commit_sha=hashlib.sha1(seed.encode()).hexdigest(),
        git_branch="main", config={"name": "ingest", "parameters": parameters},
    )
    return deployments.deployment_set(
        actor=tenant.users[Role.DEVELOPER], workflow=tenant.ingest, environment=tenant.test_env, version=version
    )


@pytest.fixture
def ingest(tenant_a: Tenant) -> Deployment:
    """Team A's `ingest` workflow deployed to test with parameters of several types."""
    return register_and_deploy(tenant_a, PARAMETERS, "ingest-typed")


@pytest.fixture
def developer(tenant_a, client_for):
    """An API client signed in as team A's developer."""
    return client_for(tenant_a.users[Role.DEVELOPER])


@pytest.fixture
def mapped(ingest, developer) -> tuple[DeploymentWebhook, str]:
    """The `ingest` deployment's webhook, created through the API with the GitLab push mapping, and its secret."""
    created = developer.post(MANAGE, {"deployment": str(ingest.pk), "parameter_mapping": PUSH_MAPPING}, format="json")
    assert created.status_code == 201, created.json()
    return DeploymentWebhook.objects.get(pk=created.json()["id"]), created.json()["secret"]


def deliver_signed(webhook: DeploymentWebhook, secret: str, body: dict, **headers):
    """POST `body` to the webhook's URL, signed with X-Flowyard-Signature as a forge's relay would."""
    data = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers.update({"X-Flowyard-Timestamp": stamp, "X-Flowyard-Signature": webhooks.signature_for(secret, stamp, data)})
    return Client().post(f"/api/v1/hooks/{webhook.pk}/", data=data, content_type="application/json", headers=headers)


def runs_of(webhook: DeploymentWebhook) -> list[Run]:
    """The runs the webhook started, oldest first."""
    return list(Run.objects.filter(triggered_by_label=f"webhook:{webhook.pk}").order_by("created_at"))


# -- deliveries ----------------------------------------------------------------------------------------------
def test_a_signed_gitlab_push_starts_one_run_with_the_mapped_typed_parameters(mapped):
    webhook, secret = mapped
    response = deliver_signed(webhook, secret, GITLAB_PUSH, **{"Idempotency-Key": "push-da15608"})
    assert response.status_code == 201, response.json()
    [run] = runs_of(webhook)
    assert run.trigger == "webhook" and str(run.pk) == response.json()["run"]
    assert run.parameters == {
        "project": "data/etl", "ref": "refs/heads/feature/orders",
        "commit": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "commits": 4, "label": "push-15-jsmith",
        "since": "95790bf891e76fee5e1747ab589903a6a1f80f22", "limit": 10,
    }, "mapped values typed like their defaults; the unmapped limit keeps its default; other keys are ignored"
    replay = deliver_signed(webhook, secret, GITLAB_PUSH, **{"Idempotency-Key": "push-da15608"})
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert len(runs_of(webhook)) == 1


def test_text_that_reads_as_the_parameters_type_is_converted(mapped):
    webhook, secret = mapped
    response = deliver_signed(webhook, secret, {**GITLAB_PUSH, "total_commits_count": "12"})
    assert response.status_code == 201, response.json()
    assert runs_of(webhook)[0].parameters["commits"] == 12


def test_a_missing_pointer_is_refused_naming_the_parameter_and_the_pointer_and_starts_nothing(mapped):
    webhook, secret = mapped
    body = {key: value for key, value in GITLAB_PUSH.items() if key != "checkout_sha"}
    response = deliver_signed(webhook, secret, body, **{"Idempotency-Key": "push-1"})
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid" and error["extra"]["fields"].keys() == {"parameters.commit"}
    assert "nothing at /checkout_sha" in error["message"] and "parameter 'commit'" in error["message"]
    assert runs_of(webhook) == [] and not WebhookDelivery.objects.filter(webhook=webhook).exists()
    assert deliver_signed(webhook, secret, GITLAB_PUSH, **{"Idempotency-Key": "push-1"}).status_code == 201, (
        "a refused delivery records nothing, so its key is not spent")


def test_a_value_of_the_wrong_type_is_refused_naming_the_parameter_the_type_and_what_came(mapped):
    webhook, secret = mapped
    response = deliver_signed(webhook, secret, {**GITLAB_PUSH, "total_commits_count": "many"})
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"parameters.commits": [
        "Parameter 'commits' (from '/total_commits_count'): expected an integer, got a string \"many\"."]}
    nested = deliver_signed(webhook, secret, {**GITLAB_PUSH, "user_username": {"name": "jsmith"}})
    assert nested.status_code == 400 and "parameters.label" in nested.json()["extra"]["fields"]
    assert "/user_username holds an object" in nested.json()["message"]
    assert runs_of(webhook) == []


def test_a_parameter_the_deployed_version_no_longer_declares_is_refused_naming_the_mapping(tenant_a, mapped):
    webhook, secret = mapped
    register_and_deploy(tenant_a, {key: value for key, value in PARAMETERS.items() if key != "since"}, "ingest-v2")
    response = deliver_signed(webhook, secret, GITLAB_PUSH)
    assert response.status_code == 400
    assert "parameter_mapping.since" in response.json()["extra"]["fields"]["parameters.since"][0]
    assert runs_of(webhook) == []


# -- management ----------------------------------------------------------------------------------------------
def test_the_api_refuses_a_mapping_to_an_unknown_parameter_naming_the_field_and_the_known_ones(
    ingest, developer, fingerprint
):
    before = fingerprint()
    response = developer.post(MANAGE, {"deployment": str(ingest.pk), "parameter_mapping": {"colour": "/colour"}},
                              format="json")
    assert response.status_code == 400
    problems = response.json()["extra"]["fields"]["parameter_mapping.colour"]
    assert problems == ["The workflow declares no parameter 'colour'; it declares: commit, commits, label, limit, "
                        "project, ref, since."]
    bad_pointer = developer.post(MANAGE, {"deployment": str(ingest.pk), "parameter_mapping": {"ref": "ref"}},
                                 format="json")
    assert bad_pointer.status_code == 400
    assert "neither a JSON pointer" in bad_pointer.json()["extra"]["fields"]["parameter_mapping.ref"][0]
    assert fingerprint() == before, "a refused mapping wrote nothing"


def test_a_mapping_is_replaced_and_removed_with_patch_and_each_change_is_audited(mapped, developer):
    webhook, secret = mapped
    url = f"{MANAGE}{webhook.pk}/"
    assert developer.get(url).json()["parameter_mapping"] == PUSH_MAPPING
    refused = developer.patch(url, {"parameter_mapping": {"ref": "/ref", "nope": "/x"}}, format="json")
    assert refused.status_code == 400 and set(refused.json()["extra"]["fields"]) == {"parameter_mapping.nope"}
    assert DeploymentWebhook.objects.get(pk=webhook.pk).parameter_mapping == PUSH_MAPPING
    replaced = developer.patch(url, {"parameter_mapping": {"ref": "/ref"}}, format="json")
    assert replaced.status_code == 200 and replaced.json()["parameter_mapping"] == {"ref": "/ref"}
    assert replaced.json()["is_enabled"] is True
    removed = developer.patch(url, {"parameter_mapping": {}}, format="json")
    assert removed.status_code == 200 and removed.json()["parameter_mapping"] == {}
    events = AuditEvent.objects.filter(action="webhook.updated", object_id=str(webhook.pk)).order_by("id")
    assert [(event.before["parameter_mapping"], event.after["parameter_mapping"]) for event in events] == [
        (PUSH_MAPPING, {"ref": "/ref"}), ({"ref": "/ref"}, {})]
    response = deliver_signed(webhook, secret, {"ref": "dev", "commits": 2})
    assert response.status_code == 201, "without a mapping the body is the parameter overrides again"
    assert runs_of(webhook)[0].parameters == {**PARAMETERS, "ref": "dev", "commits": 2}


def test_a_mapping_for_a_deployment_with_nothing_deployed_is_refused_saying_to_deploy_first(tenant_a, developer):
    empty = Deployment.objects.create(workflow=tenant_a.empty_workflow, environment=tenant_a.test_env)
    response = developer.post(MANAGE, {"deployment": str(empty.pk), "parameter_mapping": {"ref": "/ref"}},
                              format="json")
    assert response.status_code == 400 and "deploy a version first" in response.json()["message"]
    assert not DeploymentWebhook.objects.filter(deployment=empty).exists()


def test_another_teams_webhook_mapping_answers_404_and_stays_as_it_was(mapped, tenant_b, client_for):
    webhook, _ = mapped
    intruder = client_for(tenant_b.admin)
    response = intruder.patch(f"{MANAGE}{webhook.pk}/", {"parameter_mapping": {}}, format="json")
    assert response.status_code == 404
    assert DeploymentWebhook.objects.get(pk=webhook.pk).parameter_mapping == PUSH_MAPPING
