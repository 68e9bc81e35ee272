"""The Celery application. Start workers with DJANGO_SETTINGS_MODULE set, as for any entry point:
`DJANGO_SETTINGS_MODULE=controlplane.settings.production celery -A controlplane worker` (and `beat`)."""

from celery import Celery

app = Celery("flowyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
