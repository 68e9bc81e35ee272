"""Test profile: per-session data directory and Celery queue, a shareable SQLite file, a fast hasher."""

import os
import tempfile
import uuid

# Each test session gets its own data directory (SQLite test database, embedded files) and its own Celery
# queue on the real Redis broker, so sessions running side by side never see each other's state. These are
# set in the process environment, so workers the tests start inherit them.
os.environ.setdefault("FLOWYARD_DATA_DIR", tempfile.mkdtemp(prefix="flowyard-test-"))
os.environ.setdefault("FLOWYARD_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("FLOWYARD_TASK_QUEUE", f"flowyard-test-{uuid.uuid4().hex[:12]}")

from controlplane.settings.base import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A SQLite test database is a file, so that Celery workers started by the tests can share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405
