"""WSGI entry point for production servers (gunicorn in the control plane image)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.production")
application = get_wsgi_application()

from controlplane.startup import prepare_process  # noqa: E402 - reads the settings, so only after they are loaded

prepare_process()  # in each server process, before its first request
