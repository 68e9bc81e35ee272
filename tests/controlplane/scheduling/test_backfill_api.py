"""/api/v1/backfills/: developers start and cancel backfills, everyone on the project follows their progress."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from controlplane.runs import lifecycle
from controlplane.runs.models import Run
from controlplane.scheduling.backfills import backfill_dispatch
from flowyard_spec.states import RunReason, RunState, Role

LIST = "api:backfill-list"


def end(run_id, state: RunState, reason: RunReason | None = None) -> None:
    """Bring a run to RUNNING and end it as `state`."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        lifecycle.transition(run, RunState.RUNNING)
        lifecycle.transition(run, state, reason=reason)
        run.save()


def test_a_developer_backfills_a_day_given_as_dates_and_follows_its_progress(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.DEVELOPER])
    response = client.post(reverse(LIST), {
        "deployment": str(tenant_a.test_deployment.pk), "start": "2026-01-05", "end": "2026-01-05T05:00",
        "max_active": 2, "parameters": {"limit": 3},
    }, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["start"].startswith("2026-01-05T00:00:00") and created["end"].startswith("2026-01-05T05:00:00")
    assert (created["state"], created["progress"]["total_ticks"]) == ("RUNNING", 6)
    assert created["next_tick"] == "2026-01-05T00:00:00+00:00"
    backfill_dispatch(created["id"])  # what the scheduler's periodic task does
    detail = reverse("api:backfill-detail", kwargs={"pk": created["id"]})
    progress = client.get(detail).json()["progress"]
    assert (progress["handled_ticks"], progress["live_runs"], progress["runs_by_state"]) == (2, 2, {"QUEUED": 2})
    first, second = Run.objects.filter(backfill_id=created["id"]).order_by("scheduled_for")
    assert first.parameters["limit"] == 3
    end(first.pk, RunState.SUCCEEDED)
    end(second.pk, RunState.FAILED, RunReason.IMAGE_ERROR)
    viewer = client_for(tenant_a.users[Role.VIEWER])
    shown = viewer.get(detail).json()
    assert shown["progress"] | {"runs_by_state": None} == {
        "total_ticks": 6, "handled_ticks": 2, "remaining_ticks": 4, "skipped_ticks": 0, "runs_by_state": None,
        "live_runs": 0, "succeeded_ticks": 1, "failed_ticks": 1,
    }
    assert shown["progress"]["runs_by_state"] == {"FAILED": 1, "SUCCEEDED": 1}
    listed = viewer.get(reverse(LIST), {"deployment": str(tenant_a.test_deployment.pk), "state": "RUNNING"}).json()
    assert created["id"] in [item["id"] for item in listed["results"]]
    runs = viewer.get(reverse("api:run-list"), {"backfill": created["id"]}).json()["results"]
    assert {run["id"] for run in runs} == {str(first.pk), str(second.pk)}

    refused = viewer.post(reverse("api:backfill-cancel", kwargs={"pk": created["id"]}), {}, format="json")
    assert refused.status_code == 403
    cancelled = client.post(reverse("api:backfill-cancel", kwargs={"pk": created["id"]}), {}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "CANCELLED"
    assert client.get(reverse(LIST), {"state": "CANCELLED"}).json()["results"][0]["id"] == created["id"]


def test_a_range_reaching_into_the_future_is_refused_naming_end(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.DEVELOPER])
    response = client.post(reverse(LIST), {
        "deployment": str(tenant_a.test_deployment.pk), "start": "2026-01-05", "end": "2999-01-01",
    }, format="json")
    assert response.status_code == 400
    assert "in the future" in response.json()["extra"]["fields"]["end"][0]


def test_a_malformed_date_is_refused_naming_the_field(tenant_a, client_for):
    client = client_for(tenant_a.users[Role.DEVELOPER])
    response = client.post(reverse(LIST), {
        "deployment": str(tenant_a.test_deployment.pk), "start": "yesterday", "end": "2026-01-05",
    }, format="json")
    assert response.status_code == 400
    assert "start" in response.json()["extra"]["fields"]
