"""Production profile: HTTPS only, secure cookies; FlowyardConfig refuses weak secrets and non-PostgreSQL."""

import os

os.environ["FLOWYARD_MODE"] = "production"  # this module *is* the production profile, whatever the caller set

from controlplane.settings.base import *  # noqa: E402,F401,F403

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
