"""Production profile: HTTPS only, secure cookies, PostgreSQL required (checked by FlowyardConfig)."""

import os

os.environ.setdefault("FLOWYARD_MODE", "production")

from controlplane.settings.base import *  # noqa: E402,F401,F403
from controlplane.settings.base import FLOWYARD  # noqa: E402

if FLOWYARD.mode != "production":
    raise RuntimeError("controlplane.settings.production needs FLOWYARD_MODE=production (or unset)")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
