"""Delivering alerts to real receivers on 127.0.0.1: signed webhooks, Slack-compatible posts and e-mail through
an SMTP server; retries with backoff, failure after the last attempt, the rate limit's digest, and leases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from controlplane.alerts import services
from controlplane.alerts.delivery import backoff_seconds, deliveries_sweep, delivery_attempt, delivery_claim, digest_send
from controlplane.alerts.models import Channel, Delivery, DeliveryState
from controlplane.alerts.raising import alert_raise
from controlplane.alerts.messages import Message
from flowyard_testkit.alert_receivers import verify_signature


def raise_alert(tenant, rule_channels, subject="run:test", title="[Flowyard] FAILED: alpha-main/etl in test"):
    rule = services.rule_create(actor=tenant.admin, project=tenant.project, name=f"r-{abs(hash(subject)) % 10**8}",
                                events=["run_failed"], channels=rule_channels)
    (alert,) = alert_raise(project=tenant.project, event="run_failed", subject=subject, rules=[rule],
                           render=lambda: Message(title=title, text="What failed, where and why.",
                                                  link="http://127.0.0.1:8000/runs/x/", details={"run": "x"}))
    return alert


def past(delivery: Delivery) -> None:
    """Let the delivery's retry time pass."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_generic_webhook_gets_the_alert_as_signed_json(tenant_a, hook_channel, receiver):
    alert = raise_alert(tenant_a, [hook_channel])
    delivery = alert.deliveries.get()
    delivery_attempt(delivery.pk)
    (request,) = receiver.requests
    assert verify_signature(hook_channel.secret, request)
    assert not verify_signature("another-secret-of-some-length", request)
    body = json.loads(request.body)
    assert (body["event"], body["title"], body["run"], body["delivery"]) == (
        "run_failed", alert.title, "x", str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and delivery.sent_at
    assert [(a.number, a.ok, a.status_code) for a in delivery.attempt_log.all()] == [(1, True, 200)]


def test_a_slack_compatible_channel_gets_text_with_the_title_and_link(tenant_a, hook_receivers):
    slack = hook_receivers()
    channel, secret = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="slack",
                                              kind="slack", target=slack.url)
    assert secret == ""
    delivery_attempt(raise_alert(tenant_a, [channel]).deliveries.get().pk)
    (request,) = slack.requests
    text = json.loads(request.body)["text"]
    assert text.startswith("*[Flowyard] FAILED") and "<http://127.0.0.1:8000/runs/x/|Open in Flowyard>" in text
    assert "x-flowyard-signature" not in request.headers


def test_an_e_mail_channel_sends_one_message_through_the_smtp_server(tenant_a, smtp_sink, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # pytest-django's default keeps mail local
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    channel, _ = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="oncall", kind="email",
                                         target="oncall@example.org, lead@example.org")
    assert channel.target_hint == "2 addresses at example.org"
    delivery = raise_alert(tenant_a, [channel]).deliveries.get()
    delivery_attempt(delivery.pk)
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[Flowyard] FAILED: alpha-main/etl in test"
    assert sorted(smtp_sink.recipients[0]) == ["lead@example.org", "oncall@example.org"]
    assert "What failed, where and why." in message.get_content()
    assert Delivery.objects.get(pk=delivery.pk).state == DeliveryState.SENT


def test_without_an_smtp_server_the_attempt_fails_naming_the_setting(tenant_a, settings):
    settings.EMAIL_HOST = ""
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"alert_max_attempts": 1})
    channel, _ = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="mail", kind="email",
                                         target="oncall@example.org")
    delivery = raise_alert(tenant_a, [channel]).deliveries.get()
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED and "FLOWYARD_SMTP_HOST" in delivery.last_error


def test_a_channel_answering_500_is_retried_with_backoff_then_failed(tenant_a, hook_receivers, settings):
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"alert_max_attempts": 3, "alert_retry_seconds": 30})
    broken = hook_receivers(status=500)
    channel, _ = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="broken",
                                         kind="webhook", target=broken.url)
    delivery = raise_alert(tenant_a, [channel]).deliveries.get()
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and "answered 500" in delivery.last_error
    assert timedelta(seconds=29) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    delivery_attempt(delivery.pk)
    assert len(broken.requests) == 1, "a retry is not sent before its time"
    past(delivery)
    delivery_attempt(delivery.pk)
    past(delivery)
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED and len(broken.requests) == 3
    assert [(a.number, a.ok, a.status_code) for a in delivery.attempt_log.all()] == [
        (1, False, 500), (2, False, 500), (3, False, 500)]
    assert broken.url not in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [30, 60, 120]


def test_an_unreachable_channel_fails_its_attempt_without_touching_another_channel(tenant_a, hook_channel, receiver,
                                                                                    settings):
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"alert_max_attempts": 1})
    from flowyard_testkit.ports import free_port

    dead, _ = services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="dead", kind="webhook",
                                      target=f"http://127.0.0.1:{free_port()}/hook")
    alert = raise_alert(tenant_a, [dead, hook_channel])
    for delivery in alert.deliveries.all():
        delivery_attempt(delivery.pk)
    states = dict(alert.deliveries.values_list("channel__name", "state"))
    assert states == {"dead": DeliveryState.FAILED, "hook": DeliveryState.SENT}
    assert len(receiver.requests) == 1


def test_a_delivery_being_sent_is_not_claimed_twice(tenant_a, hook_channel):
    delivery = raise_alert(tenant_a, [hook_channel]).deliveries.get()
    assert delivery_claim(delivery.pk) is not None
    assert delivery_claim(delivery.pk) is None, "the first worker's lease holds it"


def test_over_the_rate_limit_alerts_are_held_and_folded_into_one_digest(tenant_a, hook_channel, receiver):
    services.channel_update(actor=tenant_a.admin, channel=hook_channel, rate_limit_count=2, rate_limit_seconds=60)
    deliveries = [raise_alert(tenant_a, [hook_channel], subject=f"run:{n}", title=f"alert {n}").deliveries.get()
                  for n in range(4)]
    for delivery in deliveries:
        delivery_attempt(delivery.pk)
    states = [Delivery.objects.get(pk=d.pk).state for d in deliveries]
    assert states == [DeliveryState.SENT, DeliveryState.SENT, DeliveryState.HELD, DeliveryState.HELD]
    channel = Channel.objects.get(pk=hook_channel.pk)
    assert channel.digest_due_at and channel.digest_due_at > timezone.now()
    assert digest_send(channel.pk) is None, "not before the window frees"
    Channel.objects.filter(pk=channel.pk).update(digest_due_at=timezone.now() - timedelta(seconds=1))
    digest = digest_send(channel.pk)
    assert digest_send(channel.pk) is None, "one digest"
    delivery_attempt(digest.pk)
    assert len(receiver.requests) == 3
    body = json.loads(receiver.requests[-1].body)
    assert body["event"] == "digest" and [item["title"] for item in body["digest"]] == ["alert 2", "alert 3"]
    assert {Delivery.objects.get(pk=d.pk).state for d in deliveries[2:]} == {DeliveryState.DIGESTED}
    assert Delivery.objects.get(pk=digest.pk).state == DeliveryState.SENT


def test_the_sweep_enqueues_again_only_what_was_left_behind(tenant_a, hook_channel):
    old = raise_alert(tenant_a, [hook_channel], subject="run:old").deliveries.get()
    raise_alert(tenant_a, [hook_channel], subject="run:new")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert deliveries_sweep() == 1


@pytest.mark.parametrize("kind, target, problem", [
    ("email", "not-an-address", "is not an e-mail address"),
    ("slack", "ftp://example.org/x", "http:// or https://"),
    ("webhook", "/relative", "http:// or https://"),
])
def test_a_bad_target_is_refused_naming_the_field(tenant_a, kind, target, problem):
    from controlplane.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        services.channel_create(actor=tenant_a.admin, project=tenant_a.project, name="bad", kind=kind, target=target)
    assert problem in str(refused.value.extra["fields"]["target"])
