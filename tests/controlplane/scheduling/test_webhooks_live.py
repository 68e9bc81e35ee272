"""Webhook deliveries over real HTTP (pytest-django's live_server), posted with urllib from other threads."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from controlplane.runs.models import Run
from controlplane.scheduling.models import WebhookDelivery
from controlplane.scheduling.webhooks import signature_for

DEADLINE = 20.0


def post_signed(url: str, secret: str, payload: dict, key: str | None = None) -> tuple[int, dict]:
    """POST `payload` signed with `secret` the way docs/webhooks.md shows; (status, JSON body)."""
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Flowyard-Timestamp": stamp,
               "X-Flowyard-Signature": signature_for(secret, stamp, body)}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def in_threads(count: int, call) -> list:
    """Run `call()` in `count` threads released together; their results (an exception fails the test)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def work(index: int) -> None:
        try:
            barrier.wait(DEADLINE)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads), "a delivery did not finish"
    assert not errors, errors
    return results


def test_a_signed_delivery_from_another_thread_starts_one_run_with_its_parameters(tenant_a, live_server):
    webhook, secret = tenant_a.extra["webhook"], tenant_a.extra["webhook_secret"]
    url = f"{live_server.url}/api/v1/hooks/{webhook.pk}/"
    [(status, body)] = in_threads(1, lambda: post_signed(url, secret, {"day": "2026-11-01"}))
    assert status == 201, body
    run = Run.objects.get(pk=body["run"])
    assert run.trigger == "webhook" and run.parameters == {"day": "2026-11-01", "limit": 10}
    assert Run.objects.filter(triggered_by_label=f"webhook:{webhook.pk}").count() == 1
    status, body = post_signed(url, "fyw_wrong", {"day": "2026-11-01"})
    assert status == 401 and body["code"] == "webhook_signature_invalid"


def test_concurrent_deliveries_with_one_idempotency_key_start_one_run(tenant_a, live_server):
    webhook, secret = tenant_a.extra["webhook"], tenant_a.extra["webhook_secret"]
    url = f"{live_server.url}/api/v1/hooks/{webhook.pk}/"
    results = in_threads(4, lambda: post_signed(url, secret, {"limit": 7}, key="nightly-2026-11-01"))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 200, 200, 201], results
    assert len({body["run"] for _, body in results}) == 1, "every answer names the same run"
    runs = Run.objects.filter(triggered_by_label=f"webhook:{webhook.pk}")
    assert runs.count() == 1 and runs.get().parameters["limit"] == 7
    assert WebhookDelivery.objects.filter(webhook=webhook).count() == 1
