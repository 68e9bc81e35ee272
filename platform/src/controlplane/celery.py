"""The Celery application. Start workers with DJANGO_SETTINGS_MODULE set, as for any entry point:
`DJANGO_SETTINGS_MODULE=controlplane.settings.production celery -A controlplane worker` (and `beat`).

Database connections in a worker follow Django's own rules, as in the web process: around every task (as Django
does around every request) a connection past CONN_MAX_AGE, or broken, is closed and the next query opens a new one;
otherwise the task reuses its thread's connection. Celery's Django fixup would close every connection after every
task (settings.CELERY_DB_REUSE_MAX turns that off), and each task would then pay for a new PostgreSQL backend:
a fork, authentication and cold catalog caches, several times the cost of the task's own queries.
"""

from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

app = Celery("flowyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect(weak=False, dispatch_uid="controlplane.celery.connections")
@task_postrun.connect(weak=False, dispatch_uid="controlplane.celery.connections")
def close_old_database_connections(task: Any = None, **kwargs: Any) -> None:
    """Close this thread's database connections that are past CONN_MAX_AGE or unusable (not in an eager task,
    which runs inside its caller's transaction)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
