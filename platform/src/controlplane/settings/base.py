"""Settings shared by every profile, derived from the typed FlowyardConfig.

Importing a profile reads the environment and changes nothing: neither os.environ nor the disk. The folders
named here are created at start-up, by controlplane.startup.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.config import FlowyardConfig

FLOWYARD = FlowyardConfig.from_environ()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(FLOWYARD.data_dir).resolve()

SECRET_KEY = FLOWYARD.secret_key
DEBUG = FLOWYARD.debug
ALLOWED_HOSTS = FLOWYARD.allowed_hosts
CSRF_TRUSTED_ORIGINS = FLOWYARD.csrf_trusted_origins

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "guardian",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "controlplane.core",
    "controlplane.tenancy",
    "controlplane.api",
    "controlplane.sso",
    "controlplane.workflows",
    "controlplane.deployments",
    "controlplane.runs",
    "controlplane.runtimes",
    "controlplane.scheduling",
    "controlplane.registration",
    "controlplane.costs",
    "controlplane.alerts",
    "controlplane.gitops",
    "controlplane.portal",
    "controlplane.operations",
    "controlplane.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the portal's CSS/JS, from STATIC_ROOT or the apps' static/
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the views' exceptions first: a database outage answers 503 database_unavailable.
    "controlplane.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
WSGI_APPLICATION = "controlplane.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "controlplane.portal.context_processors.portal_header",
            ]
        },
    }
]

DATABASES = FLOWYARD.django_databases(str(DATA_DIR))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "controlplane.sso.backends.PasswordBackend",  # Django's, off for all but superusers under FLOWYARD_SSO_ONLY
    "controlplane.sso.backends.SsoSessionBackend",  # finds the user of a session an SSO sign-in started
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object; anonymous requests are refused.
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = str(DATA_DIR / "static")
# Without `collectstatic` (development, the demo, tests) WhiteNoise serves the apps' static/ folders directly;
# the production profile serves only what `flowyard-admin collectstatic` put in STATIC_ROOT, with hashed names.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGIN_URL = "/auth/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = FLOWYARD.session_seconds
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"  # the provider's redirect back to the callback is a top-level GET: Lax lets it through

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "controlplane.tenancy.authentication.BearerTokenAuthentication",
        "controlplane.runs.authentication.RunTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "controlplane.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "controlplane.api.errors.flowyard_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "controlplane.api.schema.FlowyardAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The unauthenticated CLI-login endpoints (sso/api): each call is a call to the identity provider. A polling
    # `flowyard login` makes 12 a minute; the limit is per client address (REMOTE_ADDR: NUM_PROXIES 0, so a forged
    # X-Forwarded-For changes nothing) and per process (Django's default in-memory cache).
    "DEFAULT_THROTTLE_RATES": {"cli-login": "120/min"},
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Flowyard API",
    "DESCRIPTION": "Control plane API of Flowyard: tenancy, workflows, deployments, promotions and runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "COMPONENT_SPLIT_PATCH": False,  # our PATCH inputs have their own serializers, with their own required fields
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "RunStateEnum": "flowyard_spec.states.RunState",
        "TaskStateEnum": "flowyard_spec.states.TaskState",
        "RoleEnum": "flowyard_spec.states.Role",
        "ChannelKindEnum": "controlplane.alerts.models.channels.ChannelKind",
        "EnvironmentKindEnum": "controlplane.deployments.models.deployments.EnvironmentKind",
    },
}

# Celery (see docs/architecture.md, "Celery"): late acks so a message of a worker killed mid-task is
# redelivered, one message at a time per worker process, results ignored (runs keep their own state).
_EMBEDDED_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = FLOWYARD.broker_url or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 300}
    if FLOWYARD.broker_url
    else {"data_folder_in": str(_EMBEDDED_BROKER_DIR), "data_folder_out": str(_EMBEDDED_BROKER_DIR),
          "control_folder": str(_EMBEDDED_BROKER_DIR / "control")}
)
CELERY_TASK_DEFAULT_QUEUE = FLOWYARD.task_queue
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every database connection after every task unless this many tasks may reuse one;
# connections follow Django's CONN_MAX_AGE instead (closed around each task by controlplane.celery when too old).
CELERY_DB_REUSE_MAX = 2**62
CELERY_BEAT_SCHEDULE = {
    "reconcile-runs": {"task": "controlplane.runs.tasks.reconcile_runs", "schedule": FLOWYARD.reconcile_seconds},
    # Ticks are deduplicated in the database, so any number of beats may send this; a tick message that
    # waited longer than a few intervals is dropped (the next one catches up).
    "fire-schedules": {
        "task": "controlplane.scheduling.tasks.scheduler_tick", "schedule": FLOWYARD.scheduler_seconds,
        "options": {"expires": max(5.0, 5 * FLOWYARD.scheduler_seconds),
                    "queue": FLOWYARD.scheduler_queue or FLOWYARD.task_queue},
    },
    # Merge requests' previews after their project's preview_ttl_days without a pipeline.
    "expire-previews": {"task": "controlplane.registration.tasks.expire_previews", "schedule": 3600.0,
                        "options": {"expires": 3000.0, "queue": FLOWYARD.task_queue}},
    # Every linked repository reconciled from Git (gitops.sync): drift fixed where the sync may, errors kept.
    # People's SSO accounts re-checked with the provider's refresh token (disabled at the IdP: access lost).
    "sso-recheck": {"task": "controlplane.sso.tasks.recheck_accounts", "schedule": 60.0,
                    "options": {"expires": 50.0, "queue": FLOWYARD.task_queue}},
    # Running runs over their alert rules' run_long thresholds.
    "alerts-long-runs": {"task": "controlplane.alerts.tasks.check_long_runs", "schedule": 60.0,
                         "options": {"expires": 50.0, "queue": FLOWYARD.task_queue}},
    "gitops-sync": {"task": "controlplane.gitops.tasks.sync_repositories", "schedule": 300.0,
                    "options": {"expires": 240.0, "queue": FLOWYARD.task_queue}},
    # Expired task cache records (runs ignore them; the index a run reads stays small).
    "sweep-cache-records": {"task": "controlplane.runs.tasks.sweep_cache_records", "schedule": 3600.0,
                            "options": {"expires": 3000.0, "queue": FLOWYARD.task_queue}},
}

# E-mail (the alerts' e-mail channel): Django's SMTP backend, configured from FLOWYARD_SMTP_*.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = FLOWYARD.smtp_host
EMAIL_PORT = FLOWYARD.smtp_port
EMAIL_HOST_USER = FLOWYARD.smtp_username
EMAIL_HOST_PASSWORD = FLOWYARD.smtp_password
EMAIL_USE_TLS = FLOWYARD.smtp_security == "starttls"
EMAIL_USE_SSL = FLOWYARD.smtp_security == "tls"
EMAIL_TIMEOUT = FLOWYARD.alert_timeout_seconds
DEFAULT_FROM_EMAIL = FLOWYARD.email_from

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": FLOWYARD.log_level},
    # Authlib logs PKCE verifiers and tokens at DEBUG: never let them reach a log, whatever FLOWYARD_LOG_LEVEL says.
    "loggers": {"authlib": {"level": "WARNING"}},
}
