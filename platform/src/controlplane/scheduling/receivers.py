"""Receivers of run signals: what scheduling does when a run ends (downstream runs start in `upstream`)."""

from __future__ import annotations

from django.dispatch import receiver

from controlplane.runs.models import Run
from controlplane.runs.signals import run_ended


@receiver(run_ended, sender=Run, dispatch_uid="scheduling.upstream.start_downstream_runs")
def start_downstream_runs(sender: type, run_id: object, **kwargs: object) -> None:
    """A run that SUCCEEDED starts the workflows its config names in `triggers.on_success`."""
    from controlplane.scheduling.upstream import start_downstream_runs as start

    start(run_id)
