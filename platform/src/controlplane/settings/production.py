"""Production profile: HTTPS only, secure cookies; FlowyardConfig refuses weak secrets and non-PostgreSQL."""

from controlplane.config import FlowyardConfig
from controlplane.settings.base import *  # noqa: F401,F403

# This module *is* the production profile, whatever FLOWYARD_MODE says: the same environment read again in
# production mode, so that its checks refuse a weak secret key, DEBUG or a database other than PostgreSQL.
FLOWYARD = FlowyardConfig.from_environ(mode="production")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = FLOWYARD.https_redirect  # FLOWYARD_HTTPS_REDIRECT; on unless said otherwise
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

WHITENOISE_USE_FINDERS = False  # only collected files, compressed and with content-hashed names
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
