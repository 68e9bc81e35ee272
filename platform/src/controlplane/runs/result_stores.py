"""When an environment is deleted, its cached results are deleted on every runtime target (Docker volumes, S3
objects under its prefix): no later environment can read them, and they take no more space."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from controlplane.core.queue import enqueue
from controlplane.deployments.signals import environment_deleted
from controlplane.runs.queue import REMOVE_RESULT_STORES
from controlplane.runtimes.backends.base import RuntimeBackendError
from controlplane.runtimes.models import RuntimeTarget
from controlplane.runtimes.selectors import backend_of


@receiver(environment_deleted, dispatch_uid="runs.result_stores_forget")
def result_stores_forget(sender: Any, environment_id: Any, **kwargs: Any) -> None:
    """Queue the removal of the deleted environment's result stores (the signal comes after the commit)."""
    enqueue(REMOVE_RESULT_STORES, environment_id,
            fallback="its result volumes and objects stay until removed by hand (flowyard-results-<environment id>)")


def result_stores_remove(environment_id: Any) -> list[str]:
    """Remove the environment's result store on every runtime target; what could not be removed yet, in words."""
    pending = []
    for target in RuntimeTarget.objects.all():
        try:
            backend_of(target).result_store_remove(str(environment_id))
        except RuntimeBackendError as exc:
            pending.append(f"{target.name}: {exc}")
    return pending
