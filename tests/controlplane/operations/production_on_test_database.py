"""The production settings profile with its database replaced by the test session's, for `check --deploy` tests.

A subprocess given this module (on PYTHONPATH, as DJANGO_SETTINGS_MODULE) is configured exactly as production
(FLOWYARD_DATABASE_URL names PostgreSQL, so the configuration checks pass), yet reads the runtime targets from the
test database named by DEPLOY_CHECKS_TEST_DATABASE_URL, which may be SQLite when the suite runs on SQLite.
"""

import os

from controlplane.config import FlowyardConfig
from controlplane.settings.production import *  # noqa: F401,F403
from controlplane.settings.production import DATA_DIR

DATABASES = FlowyardConfig(database_url=os.environ["DEPLOY_CHECKS_TEST_DATABASE_URL"]).django_databases(str(DATA_DIR))
