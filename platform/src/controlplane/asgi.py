"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.production")
application = get_asgi_application()

from controlplane.startup import prepare_process  # noqa: E402 - reads the settings, so only after they are loaded

prepare_process()  # in each server process, before its first request
