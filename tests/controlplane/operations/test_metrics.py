"""GET /metrics: Prometheus text read from the database, bounded labels, a handful of queries, token or loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from controlplane.operations.metrics import collector
from controlplane.runs import services as runs
from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.runtimes.models import RuntimeTarget
from flowyard_spec.states import Role, RunState, TaskState, TriggerKind


def scrape(client: Client | None = None, **extra) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (sample name, sorted labels)."""
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def finish(run: Run, state: RunState, seconds: float) -> None:
    started = timezone.now() - timedelta(seconds=seconds + 5)
    Run.objects.filter(pk=run.pk).update(state=state, started_at=started, ended_at=started + timedelta(seconds=seconds))


def test_counters_move_by_exactly_the_runs_made(tenant_a):
    project, test = tenant_a.project.slug, tenant_a.test_env.name
    before = scrape()
    developer = tenant_a.users[Role.DEVELOPER]
    made = [runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={}) for _ in range(4)]
    finish(made[0], RunState.SUCCEEDED, 3)      # bucket le=5
    finish(made[1], RunState.SUCCEEDED, 100)    # bucket le=300
    finish(made[2], RunState.FAILED, 7200)      # only +Inf
    target = RuntimeTarget.objects.create(name="metrics-docker", kind="docker")
    Run.objects.filter(pk=made[3].pk).update(state=RunState.RUNNING, runtime_target=target)
    RunLogLine.objects.bulk_create(RunLogLine(run=made[0], seq=seq, at=timezone.now(), message="x") for seq in (1, 2))
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("flowyard_runs_started_total", project=project, environment=test) == 4
    assert delta("flowyard_runs_finished_total", project=project, environment=test, state="SUCCEEDED") == 2
    assert delta("flowyard_runs_finished_total", project=project, environment=test, state="FAILED") == 1
    assert delta("flowyard_runs_active", project=project, runtime_target=target.name) == 1
    assert delta("flowyard_log_lines_total", project=project) == 2
    assert delta("flowyard_run_duration_seconds_count", project=project) == 3
    assert delta("flowyard_run_duration_seconds_bucket", project=project, le="1.0") == 0
    assert delta("flowyard_run_duration_seconds_bucket", project=project, le="5.0") == 1
    assert delta("flowyard_run_duration_seconds_bucket", project=project, le="300.0") == 2
    assert delta("flowyard_run_duration_seconds_bucket", project=project, le="3600.0") == 2
    assert delta("flowyard_run_duration_seconds_bucket", project=project, le="+Inf") == 3
    assert delta("flowyard_run_duration_seconds_sum", project=project) == pytest.approx(7303, abs=0.01)


def test_schedule_lateness_is_the_oldest_due_tick_still_waiting(tenant_a):
    developer = tenant_a.users[Role.DEVELOPER]
    run = runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={})
    Run.objects.filter(pk=run.pk).update(trigger=TriggerKind.SCHEDULE, state=RunState.QUEUED,
                                         scheduled_for=timezone.now() - timedelta(seconds=120))
    late = value(scrape(), "flowyard_schedule_lateness_seconds", project=tenant_a.project.slug)
    assert 120 <= late < 180
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
    assert ("flowyard_schedule_lateness_seconds", (("project", tenant_a.project.slug),)) not in scrape()


def test_a_scrape_is_a_handful_of_queries_and_names_no_run(tenant_a, tenant_b, django_assert_num_queries):
    developer = tenant_a.users[Role.DEVELOPER]
    for _ in range(3):
        run = runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={})
        finish(run, RunState.SUCCEEDED, 2)
        TaskRun.objects.create(run=run, task_key="extract-0", name="extract", state=TaskState.SUCCEEDED)
        RunLogLine.objects.create(run=run, seq=1, at=timezone.now(), message="x")
    assert collector.queries <= 8  # one per family group, not one per run or per project
    with django_assert_num_queries(collector.queries):
        response = Client().get("/metrics")
    text = response.content.decode()
    assert response.status_code == 200
    assert "flowyard_runs_started_total" in text and "flowyard_task_runs_total" in text
    for run_id in Run.objects.values_list("id", flat=True):
        assert str(run_id) not in text and run_id.hex not in text


def test_describe_declares_exactly_the_families_a_scrape_holds(tenant_a):
    developer = tenant_a.users[Role.DEVELOPER]
    finish(runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={}), RunState.FAILED, 1)
    response = Client().get("/metrics")
    scraped = {(family.name, family.type) for family in text_string_to_metric_families(response.content.decode())}
    declared = {(family.name, family.type) for family in collector.describe()}
    assert scraped == declared
    assert len(declared) == len(collector.families)


def test_queue_time_is_creation_to_start_of_the_runs_that_started(tenant_a):
    project = tenant_a.project.slug
    developer = tenant_a.users[Role.DEVELOPER]
    before = scrape()
    made = [runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={}) for _ in range(3)]
    created = timezone.now() - timedelta(seconds=600)
    Run.objects.filter(pk__in=[run.pk for run in made]).update(created_at=created)
    Run.objects.filter(pk=made[0].pk).update(state=RunState.RUNNING, started_at=created + timedelta(seconds=3))
    finish(made[1], RunState.SUCCEEDED, 10)
    Run.objects.filter(pk=made[1].pk).update(started_at=created + timedelta(seconds=45),
                                             ended_at=created + timedelta(seconds=55))
    # made[2] is still queued: it has no queue time yet.
    after = scrape()

    def delta(name, **labels):
        return value(after, name, project=project, **labels) - value(before, name, project=project, **labels)

    assert delta("flowyard_run_queue_seconds_count") == 2
    assert delta("flowyard_run_queue_seconds_bucket", le="2.0") == 0
    assert delta("flowyard_run_queue_seconds_bucket", le="5.0") == 1
    assert delta("flowyard_run_queue_seconds_bucket", le="30.0") == 1
    assert delta("flowyard_run_queue_seconds_bucket", le="60.0") == 2
    assert delta("flowyard_run_queue_seconds_bucket", le="+Inf") == 2
    assert delta("flowyard_run_queue_seconds_sum") == pytest.approx(48, abs=0.01)
    assert delta("flowyard_run_duration_seconds_count") == 1
    assert delta("flowyard_run_duration_seconds_sum") == pytest.approx(10, abs=0.01)
    assert delta("flowyard_schedule_start_delay_seconds_count") == 0


def test_schedule_start_delay_is_tick_to_start_of_scheduled_runs_only(tenant_a):
    project = tenant_a.project.slug
    developer = tenant_a.users[Role.DEVELOPER]
    before = scrape()
    made = [runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={}) for _ in range(4)]
    tick = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    for i, (run, delay) in enumerate(zip(made[:3], (0.5, 20, 1000), strict=True)):
        Run.objects.filter(pk=run.pk).update(
            trigger=TriggerKind.SCHEDULE, scheduled_for=tick + timedelta(minutes=i), state=RunState.RUNNING,
            started_at=tick + timedelta(minutes=i, seconds=delay))
    # A manual run that carries a tick (e.g. a backfill's) is not a schedule's.
    Run.objects.filter(pk=made[3].pk).update(scheduled_for=tick, state=RunState.RUNNING, started_at=tick)
    after = scrape()

    def delta(name, **labels):
        return value(after, name, project=project, **labels) - value(before, name, project=project, **labels)

    assert delta("flowyard_schedule_start_delay_seconds_count") == 3
    assert delta("flowyard_schedule_start_delay_seconds_bucket", le="1.0") == 1
    assert delta("flowyard_schedule_start_delay_seconds_bucket", le="30.0") == 2
    assert delta("flowyard_schedule_start_delay_seconds_bucket", le="900.0") == 2
    assert delta("flowyard_schedule_start_delay_seconds_bucket", le="+Inf") == 3
    assert delta("flowyard_schedule_start_delay_seconds_sum") == pytest.approx(1020.5, abs=0.01)


def test_task_runs_and_attempts_count_the_stored_rows(tenant_a):
    project = tenant_a.project.slug
    developer = tenant_a.users[Role.DEVELOPER]
    before = scrape()
    run = runs.run_trigger(actor=developer, deployment=tenant_a.test_deployment, parameters={})
    for key, state, attempt in (("a", TaskState.SUCCEEDED, 3), ("b", TaskState.FAILED, 1),
                                ("c", TaskState.RUNNING, 1), ("d", TaskState.SUCCEEDED, 1)):
        TaskRun.objects.create(run=run, task_key=key, name=key, state=state, attempt=attempt)
    after = scrape()

    def delta(name, **labels):
        return value(after, name, project=project, **labels) - value(before, name, project=project, **labels)

    assert delta("flowyard_task_runs_total") == 4
    assert delta("flowyard_task_attempts_total") == 6
    assert delta("flowyard_task_runs_finished_total", state="SUCCEEDED") == 2
    assert delta("flowyard_task_runs_finished_total", state="FAILED") == 1
    assert ("flowyard_task_runs_finished_total", (("project", project), ("state", "RUNNING"))) not in after


def test_without_a_token_only_loopback_is_answered(settings):
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"metrics_token": ""})
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    for address in ("10.0.0.7", "203.0.113.9", "2001:db8::1", ""):
        response = Client(REMOTE_ADDR=address).get("/metrics")
        assert response.status_code == 403
        assert b"flowyard_" not in response.content


def test_with_a_token_the_right_bearer_is_needed_even_from_loopback(settings):
    settings.FLOWYARD = settings.FLOWYARD.model_copy(update={"metrics_token": "s3cret-metrics"})
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Basic s3cret-metrics"},
                    {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics-and-more"}):
        response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"flowyard_" not in response.content
    ok = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert ok.status_code == 200
    assert b"flowyard_runs_started_total" in ok.content


def test_only_get():
    assert Client().post("/metrics").status_code == 405
