"""Test profile: the base settings with a fast password hasher."""

import os

os.environ.setdefault("FLOWYARD_MODE", "test")

from controlplane.settings.base import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
