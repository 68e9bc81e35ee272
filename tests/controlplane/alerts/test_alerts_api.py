"""The alerts API: admins manage channels and rules, members read them without targets or secrets, deliveries and
their attempts are the admins' alone, and another team's objects answer 404."""

from __future__ import annotations

import json

from controlplane.alerts.models import Channel, DeliveryAttempt
from controlplane.core.models import AuditEvent
from flowyard_spec.states import Role


def create_webhook_channel(client, tenant, **extra):
    return client.post("/api/v1/alert-channels/", {
        "project": str(tenant.project.pk), "name": "ops-hook", "kind": "webhook",
        "target": "https://hooks.example.org/T000/secret-path-token", **extra}, format="json")


class TestChannels:
    def test_an_admin_creates_a_webhook_channel_and_sees_its_secret_once(self, tenant_a, client_for):
        client = client_for(tenant_a.admin)
        response = create_webhook_channel(client, tenant_a)
        assert response.status_code == 201, response.json()
        created = response.json()
        assert created["secret"].startswith("fya_") and created["target_hint"] == "hooks.example.org"
        shown = client.get(f"/api/v1/alert-channels/{created['id']}/").json()
        assert "secret" not in shown and "target" not in shown
        assert "secret-path-token" not in json.dumps(client.get("/api/v1/alert-channels/").json())
        event = AuditEvent.objects.filter(action="alert_channel.created").latest("id")
        assert "secret-path-token" not in json.dumps(event.after) and created["secret"] not in json.dumps(event.after)

    def test_a_given_secret_is_kept_and_not_echoed(self, tenant_a, client_for):
        response = create_webhook_channel(client_for(tenant_a.admin), tenant_a, secret="my-own-secret-of-length")
        assert response.status_code == 201 and response.json()["secret"] == "my-own-secret-of-length"

    def test_without_the_admin_role_nobody_creates_changes_or_deletes_a_channel(self, tenant_a, client_for):
        channel = tenant_a.extra["alert_channel"]
        for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER):
            client = client_for(tenant_a.users[role])
            assert create_webhook_channel(client, tenant_a).status_code == 403
            assert client.patch(f"/api/v1/alert-channels/{channel.pk}/", {"is_enabled": True},
                                format="json").status_code == 403
            assert client.delete(f"/api/v1/alert-channels/{channel.pk}/").status_code == 403
            assert client.get(f"/api/v1/alert-channels/{channel.pk}/").status_code == 200, "members read it"
        assert not Channel.objects.get(pk=channel.pk).is_enabled, "the seeded channel stays disabled"

    def test_another_teams_channel_answers_404_and_cannot_be_used_in_a_rule(self, tenant_a, tenant_b, client_for):
        foreign = tenant_b.extra["alert_channel"]
        client = client_for(tenant_a.admin)
        assert client.get(f"/api/v1/alert-channels/{foreign.pk}/").status_code == 404
        response = client.post("/api/v1/alert-rules/", {
            "project": str(tenant_a.project.pk), "name": "steal", "events": ["run_failed"],
            "channels": [str(foreign.pk)]}, format="json")
        assert response.status_code == 400 and "channels.0" in response.json()["extra"]["fields"]

    def test_a_second_channel_with_the_same_name_answers_409(self, tenant_a, client_for):
        client = client_for(tenant_a.admin)
        assert create_webhook_channel(client, tenant_a).status_code == 201
        response = create_webhook_channel(client, tenant_a)
        assert response.status_code == 409 and response.json()["code"] == "name_taken"


class TestRules:
    def test_run_long_without_a_threshold_is_refused_naming_the_field(self, tenant_a, client_for):
        response = client_for(tenant_a.admin).post("/api/v1/alert-rules/", {
            "project": str(tenant_a.project.pk), "name": "long", "events": ["run_long"],
            "channels": [str(tenant_a.extra["alert_channel"].pk)]}, format="json")
        assert response.status_code == 400 and "run_long_seconds" in response.json()["extra"]["fields"]

    def test_an_unknown_workflow_filter_names_the_known_ones(self, tenant_a, client_for):
        response = client_for(tenant_a.admin).patch(f"/api/v1/alert-rules/{tenant_a.extra['alert_rule'].pk}/",
                                                    {"workflows": ["nope"]}, format="json")
        assert response.status_code == 400
        assert "etl" in response.json()["extra"]["fields"]["workflows"][0]


class TestDeliveries:
    def test_admins_see_deliveries_with_every_attempt(self, tenant_a, client_for):
        delivery = tenant_a.extra["alert_delivery"]
        DeliveryAttempt.objects.create(delivery=delivery, number=1, ok=False, status_code=502, error="x answered 502")
        body = client_for(tenant_a.admin).get(f"/api/v1/alert-deliveries/{delivery.pk}/").json()
        assert body["state"] == "sent" and body["event"] == "run_failed" and body["run"] == str(tenant_a.run.pk)
        assert [(a["number"], a["status_code"]) for a in body["attempt_log"]] == [(1, 502)]

    def test_without_the_admin_role_deliveries_are_not_shown(self, tenant_a, client_for):
        delivery = tenant_a.extra["alert_delivery"]
        for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER):
            client = client_for(tenant_a.users[role])
            assert client.get("/api/v1/alert-deliveries/").json()["results"] == []
            assert client.get(f"/api/v1/alert-deliveries/{delivery.pk}/").status_code == 404

    def test_another_teams_delivery_answers_404(self, tenant_a, tenant_b, client_for):
        foreign = tenant_b.extra["alert_delivery"]
        assert client_for(tenant_a.admin).get(f"/api/v1/alert-deliveries/{foreign.pk}/").status_code == 404
