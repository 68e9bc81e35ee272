"""From what happened to alerts: each lower app's event becomes `alert_raise` calls with the right subject.

Subjects make alerts idempotent: `run:<id>` for a run's end, `late:<id>` and `long:<id>` for a run's lateness
and length, `promotion:<id>` and `decided:<id>` for a promotion, `budget:<period>` for a budget threshold.
"""

from __future__ import annotations

import logging
import statistics
from decimal import Decimal
from typing import Any

from django.utils import timezone

from controlplane.alerts.messages import budget_message, promotion_message, run_message
from controlplane.alerts.models import Alert, AlertEvent, Rule
from controlplane.alerts.raising import alert_raise
from controlplane.deployments.models import Promotion
from controlplane.runs.lifecycle import ended_run
from controlplane.runs.models import Run
from controlplane.runs.retries import retry_budget
from flowyard_spec.states import RunState

logger = logging.getLogger(__name__)

FAILED_STATES = (RunState.FAILED, RunState.TIMED_OUT, RunState.CRASHED)
P95_MIN_RUNS = 5
P95_SAMPLE = 100


def _run(run_id: Any) -> Run | None:
    return (Run.objects.select_related("deployment__environment__project", "deployment__workflow", "version")
            .filter(pk=run_id).first())


def _raise_for_run(run: Run, event: str, subject: str) -> list[Alert]:
    deployment = run.deployment
    return alert_raise(
        project=deployment.environment.project, event=event, subject=subject, run=run,
        environment=deployment.environment.name, workflow=deployment.workflow.name,
        render=lambda: run_message(run, event),
    )


def alerts_for_run_end(run_id: Any, *, run: Run | None = None) -> list[Alert]:
    """run_failed for a failed last attempt (one a retry follows is not alerted), run_recovered for the first
    success after failures. `run`, when given, is the committed run with its deployment's workflow and
    environment (and project) and its version loaded (as `run_ended` sends it); otherwise it is read."""
    run = run if run is not None else ended_run(run_id)
    if run is None or not run.is_terminal:
        return []
    if run.state in FAILED_STATES:
        if retry_budget(run) is not None:
            return []  # a retry follows; its own end decides
        return _raise_for_run(run, AlertEvent.RUN_FAILED, f"run:{run.pk}")
    if run.state == RunState.SUCCEEDED and _previous_end_failed(run):
        return _raise_for_run(run, AlertEvent.RUN_RECOVERED, f"run:{run.pk}")
    return []


def _previous_end_failed(run: Run) -> bool:
    """Whether the deployment's run that ended before this one, cancelled runs aside, failed."""
    previous = (Run.objects.filter(deployment=run.deployment_id, ended_at__isnull=False, ended_at__lte=run.ended_at)
                .exclude(pk=run.pk).exclude(state=RunState.CANCELLED).order_by("-ended_at").values_list("state", flat=True)
                .first())
    return previous in FAILED_STATES


def alerts_for_late_run(run_id: Any) -> list[Alert]:
    """schedule_late for a scheduled run marked late."""
    run = _run(run_id)
    return _raise_for_run(run, AlertEvent.SCHEDULE_LATE, f"late:{run.pk}") if run else []


def alerts_for_promotion(promotion_id: Any, event: str) -> list[Alert]:
    """promotion_pending when requested, promotion_decided when approved or rejected."""
    promotion = (Promotion.objects.select_related("workflow__project", "source_environment", "target_environment")
                 .filter(pk=promotion_id).first())
    if promotion is None:
        return []
    prefix = "promotion" if event == AlertEvent.PROMOTION_PENDING else "decided"
    return alert_raise(
        project=promotion.workflow.project, event=event, subject=f"{prefix}:{promotion.pk}",
        environment=promotion.target_environment.name, workflow=promotion.workflow.name,
        render=lambda: promotion_message(promotion, event),
    )


def alerts_for_budget(*, project: Any, threshold: int, period: str, spent: Decimal, budget: Decimal,
                      currency: str) -> list[Alert]:
    """budget_80 or budget_100 when the project's spending crosses that share of its monthly budget."""
    event = AlertEvent.BUDGET_100 if threshold >= 100 else AlertEvent.BUDGET_80
    return alert_raise(
        project=project, event=event, subject=f"budget:{period}",
        render=lambda: budget_message(project=project, threshold=threshold, period=period, spent=spent,
                                      budget=budget, currency=currency),
    )


def long_run_threshold(rule: Rule, run: Run) -> float | None:
    """Seconds after which `run` counts as long for `rule`: its fixed threshold, or factor × the p95 of the
    deployment's recent successful runs, whichever is lower; None when the rule gives neither usable."""
    limits = []
    if rule.run_long_seconds:
        limits.append(float(rule.run_long_seconds))
    if rule.run_long_p95_factor:
        recent = (Run.objects.filter(deployment=run.deployment_id, state=RunState.SUCCEEDED, started_at__isnull=False)
                  .order_by("-ended_at").values_list("started_at", "ended_at")[:P95_SAMPLE])
        durations = [(ended - started).total_seconds() for started, ended in recent]
        if len(durations) >= P95_MIN_RUNS:
            p95 = statistics.quantiles(durations, n=20, method="inclusive")[-1]
            limits.append(rule.run_long_p95_factor * p95)
    return min(limits) if limits else None


def alerts_for_long_runs(*, now=None) -> list[Alert]:
    """run_long for every RUNNING run past a listening rule's threshold (once per run and rule)."""
    now = now or timezone.now()
    raised: list[Alert] = []
    rules = Rule.objects.filter(is_enabled=True).prefetch_related("channels").select_related("project")
    by_project: dict[Any, list[Rule]] = {}
    for rule in rules:
        if AlertEvent.RUN_LONG in rule.events and (rule.run_long_seconds or rule.run_long_p95_factor):
            by_project.setdefault(rule.project_id, []).append(rule)
    if not by_project:
        return raised
    running = (Run.objects.filter(state=RunState.RUNNING, started_at__isnull=False,
                                  deployment__environment__project__in=by_project)
               .select_related("deployment__environment__project", "deployment__workflow", "version"))
    for run in running:
        deployment = run.deployment
        elapsed = (now - run.started_at).total_seconds()
        due = []
        for rule in by_project[deployment.environment.project_id]:
            if not rule.matches(environment=deployment.environment.name, workflow=deployment.workflow.name):
                continue
            threshold = long_run_threshold(rule, run)
            if threshold is not None and elapsed > threshold:
                due.append(rule)
        if due:
            raised += alert_raise(project=deployment.environment.project, event=AlertEvent.RUN_LONG,
                                  subject=f"long:{run.pk}", run=run, rules=due,
                                  render=lambda run=run: run_message(run, AlertEvent.RUN_LONG))
    return raised


__all__ = ["alerts_for_budget", "alerts_for_late_run", "alerts_for_long_runs", "alerts_for_promotion",
           "alerts_for_run_end", "long_run_threshold"]
