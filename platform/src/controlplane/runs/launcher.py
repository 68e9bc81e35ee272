"""Launching a run on its environment's runtime target, exactly once per run.

`run_launch` is what the Celery launch task calls. It is safe to call any number of times, from any
number of workers at once:
- it claims the run with a compare-and-set UPDATE (state still QUEUED) that is the first write of its
  transaction, so a second caller waits for the first to commit and then finds nothing to do;
- the workload is named after the run, so no backend ever holds two for one run;
- STARTING is committed only after the workload exists, so a caller that dies halfway leaves the run QUEUED
  (its transaction rolls back) and a later call replaces any half-made workload it left behind.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.deployments.secrets import environment_secret_values
from controlplane.runs import lifecycle
from controlplane.runs.limits import Verdict, limit_decision, skip_run
from controlplane.runs.models import Run
from controlplane.runtimes.backends.base import (
    ENVIRONMENT_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    WORKFLOW_LABEL,
    LaunchFailed,
    LaunchSpec,
    TargetUnavailable,
)
from controlplane.runtimes.selectors import backend_of, target_for_run_config
from controlplane.tenancy.tokens import RUN_PREFIX, new_token
from controlplane.workflows.configs import run_config
from flowyard_spec.states import RunReason, RunState, TriggerKind

logger = logging.getLogger(__name__)


def image_reference(image_ref: str, image_digest: str) -> str:
    """The exact image to run: the pushed repository pinned by digest (a local path runs as is)."""
    if image_ref.startswith(("file://", "/")) or not image_digest:
        return image_ref
    repository = image_ref.rsplit("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:  # drop the tag; the digest names the image
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return f"{repository}@{image_digest}"


def launch_spec(run: Run, token: str, secrets: dict[str, str]) -> LaunchSpec:
    """What the backend needs to start `run` with the runner token `token`.

    No command is given: the image's entrypoint is the runner, which reads the entrypoint from the
    image's flowyard.json with the overrides of FLOWYARD_ENVIRONMENT.
    """
    config = run_config(run)
    environment = run.deployment.environment
    project = environment.project
    env = {
        "FLOWYARD_API_URL": settings.FLOWYARD.public_url,
        "FLOWYARD_RUN_ID": str(run.pk),
        "FLOWYARD_RUN_TOKEN": token,
        "FLOWYARD_PARAMETERS": json.dumps(run.parameters),
        "FLOWYARD_ENVIRONMENT": environment.name,
        # The runner keeps unsent events (a control plane or database outage) as long as the control plane waits
        # for a silent runner before calling it lost; the runner's own default (30 s) is shorter than an outage.
        "FLOWYARD_FLUSH_TIMEOUT_SECONDS": f"{settings.FLOWYARD.heartbeat_timeout_seconds:g}",
        **({"FLOWYARD_SCHEDULED_FOR": run.scheduled_for.isoformat()} if run.scheduled_for else {}),
        **not_before(run),
        **({"FLOWYARD_UPSTREAM_RUN_ID": str(run.upstream_run_id)} if run.upstream_run_id else {}),
        **secrets,
    }
    return LaunchSpec(
        run_id=str(run.pk),
        image=image_reference(run.version.image_ref, run.version.image_digest),
        environment=env,
        cpu_units=config.cpu,
        memory_mib=config.memory,
        labels={RUN_LABEL: str(run.pk), PROJECT_LABEL: project.slug, ENVIRONMENT_LABEL: environment.name,
                WORKFLOW_LABEL: run.deployment.workflow.name},
        secret_names=frozenset(secrets),
        result_scope=str(environment.pk),  # cached task results are shared by the environment's runs
    )


def not_before(run: Run) -> dict[str, str]:
    """FLOWYARD_NOT_BEFORE for a scheduled run launched ahead of its tick: the runner waits for the tick."""
    if run.trigger == TriggerKind.SCHEDULE and run.scheduled_for and run.scheduled_for > timezone.now():
        return {"FLOWYARD_NOT_BEFORE": run.scheduled_for.isoformat()}
    return {}


def _secrets_for(run: Run) -> dict[str, str]:
    """The values of the secrets the config names, from the run's environment (missing names are errors)."""
    wanted = run_config(run).secrets or []
    available = environment_secret_values(run.deployment.environment) if wanted else {}
    missing = [name for name in wanted if name not in available]
    if missing:
        raise LaunchFailed(
            f"Secret(s) {', '.join(missing)} are not set in environment {run.deployment.environment.name}; "
            "an admin can set them with POST /api/v1/secrets/."
        )
    return {name: available[name] for name in wanted}


def run_launch(run_id: Any) -> RunState | None:
    """Launch a QUEUED run; return its new state, or None when there was nothing to do (or not yet).

    A run that must wait (runtime unreachable, a limit reached) keeps the reason in its message.
    """
    waiting: list[str] = []
    state = _launch(run_id, waiting)
    if waiting:
        Run.objects.filter(pk=run_id, state=RunState.QUEUED).update(message=f"Waiting to start: {waiting[0]}")
    return state


def _launch(run_id: Any, waiting: list[str]) -> RunState | None:
    with transaction.atomic():
        token, _, token_hash = new_token(RUN_PREFIX)
        if not Run.objects.filter(pk=run_id, state=RunState.QUEUED).update(token_hash=token_hash):
            return None  # launched already, cancelled, or unknown
        run = Run.objects.select_related(
            "version", "deployment__environment__project", "deployment__workflow", "deployment__environment__runtime"
        ).get(pk=run_id)
        decision = limit_decision(run)
        if decision.verdict is Verdict.SKIP:
            return skip_run(run, decision)  # CANCELLED, committed with the claim
        if not decision.allowed:
            transaction.set_rollback(True)  # stays QUEUED; the reconciler offers it again
            waiting.append(decision.message)
            return None
        try:
            target = target_for_run_config(run.deployment.environment, run.version.config)  # its config's runtime
            backend = backend_of(target)
            backend.clear_leftover(str(run.pk))  # left by a launch that died before committing
            spec = launch_spec(run, token, _secrets_for(run))
            run.runtime_ref = backend.launch(spec)
        except TargetUnavailable as exc:
            logger.warning("run %s: runtime unavailable, will retry: %s", run.pk, exc)
            transaction.set_rollback(True)
            waiting.append(f"the runtime does not answer ({exc}).")
            return None
        except LaunchFailed as exc:
            reason = RunReason.IMAGE_ERROR if exc.image_error else RunReason.USER_ERROR
            lifecycle.transition(run, RunState.FAILED, reason=reason, message=str(exc))
            run.save()
            return RunState.FAILED
        run.runtime_target = target  # from now on it is watched and stopped there
        lifecycle.transition(run, RunState.STARTING)
        run.save()
        return RunState.STARTING
