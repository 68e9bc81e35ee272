"""Log lines the control plane writes itself (a workload's own output, system notes), masked like the runner's."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Max

from controlplane.deployments.secrets import SecretUndecryptable, environment_secret_values
from controlplane.runs.masking import SecretMasker
from controlplane.runs.models import Run, RunLogLine

logger = logging.getLogger(__name__)


def masker_for(run: Run) -> Callable[[str], str]:
    """A function that masks the values of the run's environment secrets in text."""
    try:
        values = environment_secret_values(run.deployment.environment)
    except SecretUndecryptable as exc:  # the key changed: no run can have been given these values
        logger.warning("run %s: secrets of its environment cannot be read, so none are masked: %s", run.pk, exc)
        return lambda text: text
    return SecretMasker(values.values()).mask if values else (lambda text: text)


def store_system_lines(run: Run, lines: Iterable[tuple[datetime.datetime, str, str]]) -> None:
    """Append lines the control plane collected itself (e.g. a workload's own output) after the run's last."""
    mask = masker_for(run)
    with transaction.atomic():
        Run.objects.select_for_update().only("pk").get(pk=run.pk)  # lock the run: appends take turns
        seq = RunLogLine.objects.filter(run=run).aggregate(last=Max("seq"))["last"] or 0
        RunLogLine.objects.bulk_create(
            RunLogLine(run=run, seq=seq + index, at=at, stream="system" if stream not in ("stdout", "stderr") else stream,
                       message=mask(message))
            for index, (at, stream, message) in enumerate(lines, start=1)
        )
