"""Work a control-plane process does once at start-up, after Django has loaded its apps (never at import time)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings
from django.urls import get_resolver


def embedded_directories() -> list[Path]:
    """The folders the embedded defaults need before first use: the SQLite database's, the file broker's, and the
    static files' (WhiteNoise looks there even when it serves the apps' own static/ folders)."""
    folders = []
    for database in settings.DATABASES.values():
        name = str(database.get("NAME") or "")
        if database["ENGINE"].endswith("sqlite3") and name and name != ":memory:" and not name.startswith("file:"):
            folders.append(Path(name).parent)
    if str(getattr(settings, "CELERY_BROKER_URL", "")).startswith("filesystem://"):
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        folders += [Path(options[key]) for key in ("data_folder_in", "data_folder_out", "control_folder") if key in options]
    if getattr(settings, "STATIC_ROOT", None):
        folders.append(Path(settings.STATIC_ROOT))
    return list(dict.fromkeys(folders))


def create_embedded_directories() -> None:
    """Create the folders of `embedded_directories()` that do not exist yet."""
    for folder in embedded_directories():
        folder.mkdir(parents=True, exist_ok=True)


def load_openapi_extensions() -> None:
    """Resolve every registered drf-spectacular extension's target class now, in one thread.

    drf-spectacular resolves an extension's dotted `target_class` lazily, on the first schema request that
    asks, and rebinds the class attribute while doing so; two first requests at once then see it change
    under them (a 500 after `ModuleNotFoundError: rest_framework_simplejwt`). Resolved here, it never changes
    again. The URLconf is imported first so that extensions defined next to views are registered too.
    """
    # drf-spectacular reads DRF's settings when imported, so only after django.setup(), when this is called
    from drf_spectacular import openapi  # noqa: F401 - importing it registers drf-spectacular's contrib extensions
    from drf_spectacular.plumbing import OpenApiGeneratorExtension

    get_resolver().url_patterns  # noqa: B018 - imports every view module (and extensions defined with them)
    for extension in subclasses_of(OpenApiGeneratorExtension):
        if isinstance(extension.target_class, str):
            extension._load_class()  # the library's own loader: the same result the first request would get


def subclasses_of(base: type) -> list[type]:
    """Every class below `base`, however deep (drf-spectacular's extensions subclass each other)."""
    found, pending = [], list(base.__subclasses__())
    while pending:
        found.append(cls := pending.pop())
        pending += cls.__subclasses__()
    return found


def import_broker_transport() -> None:
    """Import the Celery broker's transport module now (kombu's Redis transport imports redis and redis.asyncio:
    about 60 ms of CPU), so that a web process does not pay for it inside the first request that sends a task."""
    from controlplane.celery import app

    app.connection_for_write().get_transport_cls()  # imports the class; connects to nothing


@functools.cache
def prepare_process() -> None:
    """Everything above, once per process; call it after `django.setup()` (`flowyard-admin` and the WSGI
    application do)."""
    create_embedded_directories()
    load_openapi_extensions()
    import_broker_transport()
