"""Failure alerts end to end: a run that fails in a real container is announced once by e-mail (a real SMTP
server, aiosmtpd) and once by a signed webhook (a receiver on 127.0.0.1 that checks the signature), while a
channel answering 500 is retried and then marked failed; the run's completion heard again sends nothing."""

from __future__ import annotations

import json

import pytest

from controlplane.alerts import services
from controlplane.alerts.models import Delivery, DeliveryState
from flowyard_testkit.alert_receivers import hook_receivers, smtp_sink, verify_signature  # noqa: F401
from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import behaviours_image, running_platform, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

FINAL = (DeliveryState.SENT, DeliveryState.FAILED)


def test_a_failed_run_sends_one_email_and_one_signed_webhook_and_a_broken_channel_fails_alone(
        live_server, behaviours_image, docker_client, tmp_path, smtp_sink, hook_receivers, settings):  # noqa: F811
    from controlplane.deployments.models import Deployment
    from controlplane.runs.models import Run
    from controlplane.runs.signals import run_ended

    receiver, broken = hook_receivers(), hook_receivers(status=500)
    env = {"FLOWYARD_SMTP_HOST": "127.0.0.1", "FLOWYARD_SMTP_PORT": str(smtp_sink.port),
           "FLOWYARD_ALERT_RETRY_SECONDS": "0.2", "FLOWYARD_ALERT_MAX_ATTEMPTS": "3",
           "FLOWYARD_PORTAL_URL": "https://flowyard.example.org"}
    # The runner reports to the live server in this process, so the alert is written here: it links to the portal.
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"portal_url": env["FLOWYARD_PORTAL_URL"]})
    with running_platform(live_server, behaviours_image, docker_client, tmp_path, env=env) as platform:
        tenant = platform.tenant
        mail, _ = services.channel_create(actor=tenant.admin, project=tenant.project, name="oncall", kind="email",
                                          target="oncall@example.org")
        hook, secret = services.channel_create(actor=tenant.admin, project=tenant.project, name="pager",
                                               kind="webhook", target=receiver.url)
        dead, _ = services.channel_create(actor=tenant.admin, project=tenant.project, name="dead", kind="webhook",
                                          target=broken.url)
        deployment = Deployment.objects.select_related("workflow").get(pk=platform.deploy())
        # The rule listens to this workflow only: the tenant's other runs (a fake image's) fail too.
        services.rule_create(actor=tenant.admin, project=tenant.project, name="failures", events=["run_failed"],
                             workflows=[deployment.workflow.name], channels=[mail, hook, dead])

        run_id = platform.trigger(str(deployment.pk), mode="fail")
        assert platform.wait_for(run_id, "SUCCEEDED", "FAILED", "CRASHED")["state"] == "FAILED"

        def settled():
            states = dict(Delivery.objects.filter(alert__run=run_id).values_list("channel__name", "state"))
            return len(states) == 3 and all(state in FINAL for state in states.values()) and states
        try:
            states = wait_until(settled, timeout=60, what="the three deliveries to be sent or failed")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nworker log:\n{platform.worker.log()[-4000:]}") from None
        assert states == {"oncall": DeliveryState.SENT, "pager": DeliveryState.SENT, "dead": DeliveryState.FAILED}

        (message,) = smtp_sink.messages
        assert smtp_sink.recipients == [["oncall@example.org"]]
        assert "FAILED" in message["Subject"] and "user_error" in message["Subject"]
        body = message.get_content()
        assert "The workflow's own code failed" in body
        assert "asked to fail" in body, "the last log lines show the error"
        assert f"https://flowyard.example.org/runs/{run_id}/" in body

        (request,) = receiver.requests
        assert verify_signature(secret, request)
        payload = json.loads(request.body)
        assert (payload["event"], payload["run"], payload["state"], payload["reason"]) == (
            "run_failed", run_id, "FAILED", "user_error")

        assert len(broken.requests) == 3
        failed = Delivery.objects.get(alert__run=run_id, channel=dead)
        assert failed.attempts == 3 and "answered 500" in failed.last_error
        assert [attempt.status_code for attempt in failed.attempt_log.all()] == [500, 500, 500]

        deliveries = Delivery.objects.count()
        run_ended.send_robust(sender=Run, run_id=run_id)  # the completion heard again
        assert Delivery.objects.count() == deliveries, "no new delivery, so nothing more can be sent"
        assert (len(smtp_sink.messages), len(receiver.requests)) == (1, 1)
