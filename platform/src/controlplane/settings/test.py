"""Test profile: per-session data directory and Celery queue, a shareable SQLite file, a fast hasher.

Each test session has its own data directory (SQLite test database, embedded files) and its own Celery queue
on the real Redis broker, so sessions running side by side never see each other's state. The pytest plugin
`flowyard_testkit.environment` puts them in the process environment before Django reads these settings, so
that the workers the tests start inherit them; this module only checks that they are there.
"""

import os

from controlplane.config import PREFIX, ConfigError

_SESSION_VARIABLES = ("DATA_DIR", "BROKER_URL", "TASK_QUEUE")
_missing = [PREFIX + name for name in _SESSION_VARIABLES if PREFIX + name not in os.environ]
if _missing:
    raise ConfigError(
        f"{', '.join(_missing)}: the test profile needs the test session's own values; run the tests with pytest "
        "(tests/support/flowyard_testkit/environment.py sets them) or set them yourself"
    )

from controlplane.settings.base import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A SQLite test database is a file, so that Celery workers started by the tests can share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405
