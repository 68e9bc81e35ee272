"""Promotions move the exact version tested in one environment to the next, once another person approves."""

from __future__ import annotations

from controlplane.deployments.models import Deployment, Promotion
from flowyard_testkit.registration import register_version
from flowyard_spec.states import Role
from flowyard_testkit.tenants import digest


def request_promotion(client, workflow, source, target, **extra):
    body = {"workflow": str(workflow.pk), "source_environment": str(source.pk), "target_environment": str(target.pk)}
    return client.post("/api/v1/promotions/", {**body, **extra}, format="json")


def approve(client, promotion_id, **body):
    return client.post(f"/api/v1/promotions/{promotion_id}/approve/", body, format="json")


def deployments_snapshot() -> list[tuple]:
    return sorted(map(repr, Deployment.objects.values_list()))


def test_a_promotion_takes_the_version_deployed_in_the_source_environment(tenant_a, client_for):
    newer = register_version(
        workflow=tenant_a.report, image_digest=digest("alpha-r2"), image_ref="127.0.0.1:5000/alpha/report:r2",
        config={"name": "report"},
    )
    response = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.report, tenant_a.test_env, tenant_a.production_env
    )
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "PENDING"
    assert response.json()["version"] == str(tenant_a.report_v1.pk), "the tested version, not the newest one"
    assert response.json()["version"] != str(newer.pk)


def test_approving_deploys_that_exact_version_to_production(tenant_a, client_for):
    tested = Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.test_env).version
    assert Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env).version != tested
    approver = tenant_a.users[Role.APPROVER]
    response = approve(client_for(approver), tenant_a.promotion.pk, comment="ran fine in test")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "APPROVED" and response.json()["decided_at"]
    production = Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env)
    assert production.version == tested
    assert production.version.image_digest == tested.image_digest
    assert production.deployed_by == approver
    shown = client_for(tenant_a.users[Role.VIEWER]).get(f"/api/v1/deployments/{production.pk}/").json()
    assert shown["version"] == str(tested.pk)


def test_approving_a_new_target_creates_its_deployment(tenant_a, client_for):
    assert not Deployment.objects.filter(workflow=tenant_a.report, environment=tenant_a.production_env).exists()
    promotion = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.report, tenant_a.test_env, tenant_a.production_env
    ).json()
    assert approve(client_for(tenant_a.users[Role.APPROVER]), promotion["id"]).status_code == 200
    production = Deployment.objects.get(workflow=tenant_a.report, environment=tenant_a.production_env)
    assert production.version.image_digest == tenant_a.report_v1.image_digest


def test_the_requester_cannot_approve_their_own_promotion(tenant_a, client_for):
    approver = client_for(tenant_a.users[Role.APPROVER])
    promotion = request_promotion(approver, tenant_a.report, tenant_a.test_env, tenant_a.production_env)
    assert promotion.status_code == 201, promotion.json()
    response = approve(approver, promotion.json()["id"])
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "self_approval"
    assert Promotion.objects.get(pk=promotion.json()["id"]).state == "PENDING"
    assert not Deployment.objects.filter(workflow=tenant_a.report, environment=tenant_a.production_env).exists()


def test_the_author_named_in_requested_for_cannot_approve(tenant_a, client_for):
    approver = tenant_a.users[Role.APPROVER]
    promotion = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.report, tenant_a.test_env, tenant_a.production_env,
        requested_for=approver.username,
    ).json()
    response = approve(client_for(approver), promotion["id"])
    assert response.status_code == 403 and response.json()["code"] == "self_approval"
    assert Promotion.objects.get(pk=promotion["id"]).state == "PENDING"
    assert approve(client_for(tenant_a.admin), promotion["id"]).status_code == 200, "another approver may approve"


def test_approving_twice_is_a_conflict(tenant_a, client_for):
    assert approve(client_for(tenant_a.users[Role.APPROVER]), tenant_a.promotion.pk).status_code == 200
    deployed = deployments_snapshot()
    response = approve(client_for(tenant_a.admin), tenant_a.promotion.pk)
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "promotion_decided"
    assert deployments_snapshot() == deployed
    rejected = client_for(tenant_a.admin).post(f"/api/v1/promotions/{tenant_a.promotion.pk}/reject/", {}, format="json")
    assert rejected.status_code == 409
    assert Promotion.objects.get(pk=tenant_a.promotion.pk).state == "APPROVED"


def test_a_promotion_cannot_go_backwards(tenant_a, client_for):
    promotions_before = Promotion.objects.count()
    response = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.workflow, tenant_a.production_env, tenant_a.test_env
    )
    assert response.status_code == 400, response.json()
    assert list(response.json()["extra"]["fields"]) == ["target_environment"]
    assert Promotion.objects.count() == promotions_before


def test_a_workflow_with_nothing_deployed_to_the_source_cannot_be_promoted(tenant_a, client_for):
    promotions_before = Promotion.objects.count()
    response = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.ingest, tenant_a.test_env, tenant_a.production_env
    )
    assert response.status_code == 400, response.json()
    fields = response.json()["extra"]["fields"]
    assert list(fields) == ["source_environment"]
    assert "deploy" in fields["source_environment"][0], "the message says what to do"
    assert Promotion.objects.count() == promotions_before


def test_a_second_pending_promotion_to_the_same_target_is_a_conflict(tenant_a, client_for):
    promotions_before = Promotion.objects.count()
    response = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.workflow, tenant_a.test_env, tenant_a.production_env
    )
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "promotion_pending"
    assert Promotion.objects.count() == promotions_before


def test_rejecting_deploys_nothing(tenant_a, client_for):
    deployed = deployments_snapshot()
    response = client_for(tenant_a.users[Role.APPROVER]).post(
        f"/api/v1/promotions/{tenant_a.promotion.pk}/reject/", {"comment": "not yet"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "REJECTED" and response.json()["comment"] == "not yet"
    assert deployments_snapshot() == deployed
    production = Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env)
    assert production.version == tenant_a.v1
    again = request_promotion(
        client_for(tenant_a.users[Role.DEVELOPER]), tenant_a.workflow, tenant_a.test_env, tenant_a.production_env
    )
    assert again.status_code == 201, "once rejected, the promotion may be requested again"


def test_an_environment_that_needs_two_approvals_deploys_at_the_second_distinct_one(tenant_a, client_for):
    from controlplane.deployments.models import Environment

    Environment.objects.filter(pk=tenant_a.production_env.pk).update(required_approvals=2)
    before = Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env).version
    first = approve(client_for(tenant_a.users[Role.APPROVER]), tenant_a.promotion.pk, comment="one")
    assert first.status_code == 200, first.json()
    assert first.json()["state"] == "PENDING" and first.json()["required_approvals"] == 2
    assert [a["user"] for a in first.json()["approvals"]] == [tenant_a.users[Role.APPROVER].username]
    again = approve(client_for(tenant_a.users[Role.APPROVER]), tenant_a.promotion.pk)
    assert again.status_code == 409 and again.json()["code"] == "already_approved"
    assert Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env).version == before
    second = approve(client_for(tenant_a.admin), tenant_a.promotion.pk, comment="two")
    assert second.json()["state"] == "APPROVED"
    assert Deployment.objects.get(workflow=tenant_a.workflow, environment=tenant_a.production_env).version \
        == tenant_a.promotion.version
