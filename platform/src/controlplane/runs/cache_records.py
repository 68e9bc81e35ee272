"""The task cache index of an environment, as its runs' runners read and write it (with their run tokens).

Where the results themselves are depends on the run's runtime target: a directory the runner writes (the
environment's volume on Docker hosts), or an object store (S3 on ECS) that the runner reads and writes through URLs
signed here (`cache_result_url`), scoped to the run's environment, so a runner holds no store credentials and cannot
reach another environment's results.

A runner loads the index of a task's records once (`cache_record_index`: one request, one query, for every call of
the task in the run), looks a key up that the index did not hold (`cache_record_find`), and records the results it
stored in batches (`cache_records_put`; `cache_record_put` for one). Records are scoped to the run's environment: a run never sees another
environment's or another project's results, whatever key it asks for.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlplane.core.errors import ValidationFailed
from controlplane.runs.models import Run, TaskCacheRecord
from controlplane.runtimes.selectors import backend_of
from flowyard_spec.api import MAX_CACHE_RECORDS_PER_BATCH

INDEX_LIMIT = 5000  # records per index answer (about 1 MB of JSON); past it the runner asks per key
KEY = re.compile(r"^[0-9a-f]{64}$")
LOCATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")  # relative, no "..", no "/" first


def cache_result_url(*, run_id: Any, location: str, upload: bool = False) -> str | None:
    """A URL signed for the run's runner to read (or upload) the result at `location` in its environment's store,
    or None when the run's target keeps results in a directory instead (no URL is needed)."""
    run = Run.objects.select_related("runtime_target", "deployment").get(pk=run_id)
    if run.runtime_target is None:  # not launched on a target (a local run reporting to the control plane)
        return None
    return backend_of(run.runtime_target).result_url(scope=str(run.deployment.environment_id), location=location,
                                                     upload=upload)


def _environment_id(run_id: Any):
    return Run.objects.filter(pk=run_id).values_list("deployment__environment_id", flat=True).get()


def _usable(run_id: Any):
    """The unexpired records of the run's environment (the scope of every read)."""
    return (TaskCacheRecord.objects.filter(environment__deployments__runs=run_id)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())))


def cache_record_index(*, run_id: Any, task_name: str, limit: int = INDEX_LIMIT) -> tuple[list[dict[str, Any]], bool]:
    """The unexpired records of `task_name` in the run's environment, newest first, at most `limit`, and whether
    that is all of them (one query, whatever the count)."""
    rows = list(_usable(run_id).filter(task_name=task_name).order_by("-updated_at")
                .values("key", "location", "expires_at")[:limit + 1])
    return rows[:limit], len(rows) <= limit


def cache_record_find(*, run_id: Any, key: str) -> TaskCacheRecord | None:
    """The unexpired record of `key` in the run's environment, or None (one query: a lookup per cached task)."""
    if not KEY.match(key):
        return None
    return _usable(run_id).filter(key=key).first()


def _check(key: str, location: str, field: str = "") -> None:
    """Refuse a key that is not the SDK's or a location outside the result store, naming the field."""
    if not KEY.match(key):
        raise ValidationFailed({f"{field}key": ["must be 64 lowercase hex characters (the SDK's cache key)."]})
    if not LOCATION.match(location) or ".." in location.split("/") or len(location) > 255:
        raise ValidationFailed({f"{field}location": ["must be a relative path inside the result store, e.g. "
                                                     "ab/abcd.pickle (no '..', no leading '/', at most 255 "
                                                     "characters)."]})


def cache_record_put(*, run_id: Any, **record: Any) -> None:
    """Record one stored result: a batch of one (`cache_records_put`), its errors naming the fields themselves."""
    _check(record["key"], record["location"])
    cache_records_put(run_id=run_id, records=[record])


@transaction.atomic
def cache_records_put(*, run_id: Any, records: list[dict[str, Any]]) -> int:
    """Record (or replace) many stored results of the run at once, in one upsert; the last record of a key in the
    batch wins. Each record has `key` and `location`, and optionally `task_name`, `size_bytes`, `expires_at`."""
    if len(records) > MAX_CACHE_RECORDS_PER_BATCH:
        raise ValidationFailed({"records": [f"at most {MAX_CACHE_RECORDS_PER_BATCH} records per batch; send the rest "
                                            "in another batch."]})
    for number, record in enumerate(records):
        _check(record["key"], record["location"], f"records.{number}.")
    environment_id = _environment_id(run_id)
    latest = {record["key"]: record for record in records}
    TaskCacheRecord.objects.bulk_create(
        [TaskCacheRecord(environment_id=environment_id, run_id=run_id, key=record["key"],
                         location=record["location"], task_name=record.get("task_name", ""),
                         size_bytes=record.get("size_bytes", 0), expires_at=record.get("expires_at"))
         for record in latest.values()],
        update_conflicts=True, unique_fields=["environment", "key"],
        update_fields=["location", "task_name", "size_bytes", "expires_at", "run", "updated_at"],
    )
    return len(latest)


def cache_records_sweep(*, batch: int = 5000) -> int:
    """Delete expired cache records (a run would ignore them anyway), `batch` at a time so no statement holds many
    rows; the number deleted. The results they pointed to stay in the store: a later run with the same inputs
    overwrites its file, and an S3 bucket's lifecycle rule expires old objects (docs/authoring.md)."""
    deleted = 0
    while True:
        expired = list(TaskCacheRecord.objects.filter(expires_at__lte=timezone.now())
                       .values_list("pk", flat=True)[:batch])
        if not expired:
            return deleted
        deleted += TaskCacheRecord.objects.filter(pk__in=expired).delete()[0]
