"""Django settings: `base` holds everything; `production` and `test` adjust it."""

from controlplane.settings.base import *  # noqa: F401,F403
