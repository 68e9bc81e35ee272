"""The task cache index runners share within an environment: what one run records, the next run of the same
environment finds; other environments and projects never do."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from controlplane.runs.models import Run, TaskCacheRecord
from flowyard_testkit.tokens import run_token_issue
from flowyard_spec.states import RunState

KEY = "c0" * 32


def runner_client(client_for, run: Run):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(run=run)}")
    return client


def another_run(deployment) -> Run:
    return Run.objects.create(deployment=deployment, version=deployment.version, state=RunState.RUNNING.value)


def record(client, run: Run, **fields):
    body = {"key": KEY, "location": f"{KEY[:2]}/{KEY}.pickle", "task_name": "wf.load", "size_bytes": 120, **fields}
    return client.post(f"/api/v1/runner/runs/{run.pk}/cache/", body, format="json")


def look_up(client, run: Run, key: str = KEY):
    return client.get(f"/api/v1/runner/runs/{run.pk}/cache/", {"key": key})


def test_a_result_recorded_by_one_run_is_found_by_the_next_run_of_the_environment(tenant_a, client_for):
    first = tenant_a.run
    assert record(runner_client(client_for, first), first).status_code == 200
    second = another_run(first.deployment)
    found = look_up(runner_client(client_for, second), second)
    assert found.status_code == 200
    assert found.json()["location"] == f"{KEY[:2]}/{KEY}.pickle" and found.json()["size_bytes"] == 120


def test_another_environment_of_the_same_project_does_not_see_the_record(tenant_a, client_for):
    record(runner_client(client_for, tenant_a.run), tenant_a.run)
    in_production = another_run(tenant_a.production_deployment)
    assert tenant_a.production_deployment.environment_id != tenant_a.run.deployment.environment_id
    assert look_up(runner_client(client_for, in_production), in_production).status_code == 204


def test_another_teams_run_asking_for_the_same_key_finds_nothing(tenant_a, tenant_b, client_for):
    record(runner_client(client_for, tenant_a.run), tenant_a.run)
    assert look_up(runner_client(client_for, tenant_b.run), tenant_a.run).status_code == 404  # not its run
    assert look_up(runner_client(client_for, tenant_b.run), tenant_b.run).status_code == 204


def test_an_expired_record_is_a_miss_and_recording_again_replaces_it(tenant_a, client_for):
    client = runner_client(client_for, tenant_a.run)
    past = (timezone.now() - datetime.timedelta(seconds=1)).isoformat()
    record(client, tenant_a.run, expires_at=past)
    assert look_up(client, tenant_a.run).status_code == 204
    future = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    assert record(client, tenant_a.run, expires_at=future, location="c0/newer.pickle").status_code == 200
    assert look_up(client, tenant_a.run).json()["location"] == "c0/newer.pickle"
    assert TaskCacheRecord.objects.filter(key=KEY).count() == 1


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "c0/../../x", ""])
def test_a_location_outside_the_result_store_is_refused_naming_the_field(tenant_a, client_for, location):
    response = record(runner_client(client_for, tenant_a.run), tenant_a.run, location=location)
    assert response.status_code == 400
    assert "location" in response.json()["extra"]["fields"]
    assert not TaskCacheRecord.objects.exists()


def test_a_malformed_key_is_a_miss_when_looked_up(tenant_a, client_for):
    client = runner_client(client_for, tenant_a.run)
    record(client, tenant_a.run)
    assert look_up(client, tenant_a.run, key="C0" * 32).status_code == 204
    assert look_up(client, tenant_a.run, key="").status_code == 204


def index_of(client, run: Run, task: str = "wf.load"):
    return client.get(f"/api/v1/runner/runs/{run.pk}/cache/index/", {"task": task})


def test_the_index_of_a_task_lists_its_unexpired_records_in_the_environment_and_no_other(tenant_a, tenant_b, client_for):
    client = runner_client(client_for, tenant_a.run)
    past = (timezone.now() - datetime.timedelta(seconds=1)).isoformat()
    record(client, tenant_a.run)
    record(client, tenant_a.run, key="d1" * 32, location="d1/result.pickle")
    record(client, tenant_a.run, key="e2" * 32, location="e2/old.pickle", expires_at=past)
    record(client, tenant_a.run, key="f3" * 32, location="f3/other.pickle", task_name="wf.other")
    in_production = another_run(tenant_a.production_deployment)
    record(runner_client(client_for, in_production), in_production, key="a4" * 32, location="a4/prod.pickle")

    index = index_of(client, another_run(tenant_a.run.deployment))
    assert index.status_code == 404, "another run's URL with this run's token"
    second = another_run(tenant_a.run.deployment)
    index = index_of(runner_client(client_for, second), second)
    assert index.status_code == 200
    assert index.json()["complete"] is True
    assert {(entry["key"], entry["location"]) for entry in index.json()["records"]} == {
        (KEY, f"{KEY[:2]}/{KEY}.pickle"), ("d1" * 32, "d1/result.pickle")}
    assert index_of(runner_client(client_for, tenant_b.run), tenant_b.run).json() == {"records": [], "complete": True}


def test_an_index_cut_short_says_it_is_not_complete_and_is_read_in_one_query(tenant_a, client_for,
                                                                           django_assert_num_queries):
    from controlplane.runs.cache_records import cache_record_index

    client = runner_client(client_for, tenant_a.run)
    for n in range(3):
        record(client, tenant_a.run, key=f"{n:02x}" * 32, location=f"{n:02x}/result.pickle")
    with django_assert_num_queries(1):
        records, complete = cache_record_index(run_id=tenant_a.run.pk, task_name="wf.load", limit=2)
    assert len(records) == 2 and complete is False
    assert cache_record_index(run_id=tenant_a.run.pk, task_name="wf.load", limit=3)[1] is True


@pytest.mark.parametrize("task", ["", "x" * 201])
def test_an_index_without_a_usable_task_name_is_refused_naming_the_parameter(tenant_a, client_for, task):
    response = index_of(runner_client(client_for, tenant_a.run), tenant_a.run, task=task)
    assert response.status_code == 400
    assert "task" in response.json()["extra"]["fields"]


def test_a_person_cannot_read_the_index_even_with_a_role_in_the_project(tenant_a, client_for):
    from flowyard_spec.states import Role

    assert index_of(client_for(tenant_a.users[Role.ADMIN]), tenant_a.run).status_code == 403


def record_batch(client, run: Run, records):
    return client.post(f"/api/v1/runner/runs/{run.pk}/cache/batch/", {"records": records}, format="json")


def test_a_batch_records_every_result_at_once_and_the_last_record_of_a_key_wins(tenant_a, client_for):
    client = runner_client(client_for, tenant_a.run)
    records = [{"key": f"{n:02x}" * 32, "location": f"{n:02x}/r.pickle", "task_name": "wf.load"} for n in range(30)]
    records.append({"key": "00" * 32, "location": "00/newer.pickle", "task_name": "wf.load"})
    response = record_batch(client, tenant_a.run, records)
    assert response.status_code == 200 and response.json() == {"recorded": 30}
    assert TaskCacheRecord.objects.filter(environment=tenant_a.run.deployment.environment).count() == 30
    assert look_up(client, tenant_a.run, key="00" * 32).json()["location"] == "00/newer.pickle"
    assert record_batch(client, tenant_a.run, [{"key": "00" * 32, "location": "00/again.pickle"}]).status_code == 200
    assert TaskCacheRecord.objects.get(key="00" * 32).location == "00/again.pickle", "a later batch replaces it"


def test_a_batch_with_one_bad_record_names_it_and_stores_nothing(tenant_a, client_for):
    client = runner_client(client_for, tenant_a.run)
    records = [{"key": "aa" * 32, "location": "aa/r.pickle"}, {"key": "bb" * 32, "location": "../../etc/passwd"}]
    response = record_batch(client, tenant_a.run, records)
    assert response.status_code == 400
    assert "records.1.location" in response.json()["extra"]["fields"]
    too_many = [{"key": "cc" * 32, "location": "cc/r.pickle"}] * 1001
    response = record_batch(client, tenant_a.run, too_many)
    assert response.status_code == 400
    assert [name.split(".")[0] for name in response.json()["extra"]["fields"]] == ["records"]
    assert not TaskCacheRecord.objects.exists()


def test_the_hourly_sweep_deletes_expired_records_and_keeps_the_rest(tenant_a, client_for):
    from controlplane.runs.tasks import sweep_cache_records

    client = runner_client(client_for, tenant_a.run)
    past = (timezone.now() - datetime.timedelta(seconds=1)).isoformat()
    future = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    record(client, tenant_a.run, key="a1" * 32, location="a1/old.pickle", expires_at=past)
    record(client, tenant_a.run, key="b2" * 32, location="b2/old.pickle", expires_at=past)
    record(client, tenant_a.run, key="c3" * 32, location="c3/fresh.pickle", expires_at=future)
    record(client, tenant_a.run, key="d4" * 32, location="d4/forever.pickle")

    assert sweep_cache_records.apply().result == 2
    assert sorted(TaskCacheRecord.objects.values_list("key", flat=True)) == ["c3" * 32, "d4" * 32]
    assert sweep_cache_records.apply().result == 0
