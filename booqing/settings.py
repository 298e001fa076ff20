"""Django settings, read from the environment (`.env.example` documents each variable)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from core.csp import inline_style_hashes

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` file is optional; real environment variables always win over it.
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Under pytest static files are served from the finders, without a collectstatic manifest.
TESTING = "pytest" in sys.modules or env.bool("TESTING", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    # Development only: a stable, obviously insecure key so `make run` works without a .env.
    # `manage.py check --deploy` rejects it (security.W009), so a deploy cannot ship with it.
    SECRET_KEY = "django-insecure-dev-only-set-DJANGO_SECRET_KEY-in-production"

BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost").strip().lower().rstrip(".")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    # Listed so /api/docs serves Swagger UI from our own static files instead of a CDN.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "core",
    "tenants",
    "whatsapp",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # The inbox's "anything new?" polls: a bodiless 204 after one query when nothing changed.
    # First, so an open tab's poll every two seconds is not a request log line each time
    # (a changed stamp falls through and is logged and measured like any page).
    "whatsapp.inbox_poll.InboxPollFastPathMiddleware",
    "whatsapp.observability.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whatsapp.middleware.WebhookFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After whitenoise (static files need neither): every page and API reply is private and
    # never stored by a cache, and pages run under a Content-Security-Policy.
    "core.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.DatabaseBusyMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "booqing.api.ApiErrorMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.locale.TenantLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the "too many attempts" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "booqing.urls"
TENANT_URLCONF = "booqing.urls_tenant"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "tenants.context_processors.tenant",
                "whatsapp.context_processors.inbox_unread",
            ],
        },
    },
]

WSGI_APPLICATION = "booqing.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web, worker and scheduler processes share one SQLite file.
    if TESTING:
        # A file, not shared-cache memory: live-server, scheduler and test threads then wait on
        # each other's locks (busy timeout) instead of failing with "database table is locked".
        DATABASES["default"]["TEST"] = {
            "NAME": str(Path(tempfile.gettempdir()) / f"booqing-test-{os.getpid()}.sqlite3")
        }
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif (pool_max := env.int("DATABASE_POOL_MAX_SIZE", default=8)) > 0:
    # Django's native psycopg pool, one per process: at most DATABASE_POOL_MAX_SIZE connections
    # however many threads serve requests (runserver starts one per request). A request that
    # finds every connection busy waits up to DATABASE_POOL_TIMEOUT seconds, then gets a 503
    # with Retry-After. Size it so processes x max_size stays under PostgreSQL's
    # max_connections (docs/scaling.md); 0 turns the pool off.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": pool_max,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
    # The pool checks a connection before handing it out: one broken while idle is replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The model core's audit log points at, named here (as AUTH_USER_MODEL is) so that core
# imports nothing of ours.
TENANT_MODEL = "tenants.Tenant"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing four passwords per test with PBKDF2 would dominate the suite's run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Login throttling (django-axes) on every login form: tenant hosts, the platform host and
# /django-admin/. A username or an address that fails AXES_FAILURE_LIMIT times in a row is
# locked out for AXES_COOLOFF_MINUTES (each further try restarts the wait); superadmins get
# an e-mail (tenants/lockouts.py). Attempts live in the database: every process sees them.
AUTHENTICATION_BACKENDS = [
    "core.auth_backends.ThrottledLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one alone locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.lockouts.lockout_response"
# Only failures are recorded: a row per successful login would grow without bound.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "password"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# English is the platform host's fallback; tenant hosts default to Bahasa Indonesia
# (tenants.locale.TenantLocaleMiddleware), and a browser's Accept-Language wins over both.
LANGUAGE_CODE = "en"
LANGUAGES = [("id", "Bahasa Indonesia"), ("en", "English")]
TENANT_DEFAULT_LANGUAGE = "id"
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Jakarta")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve files straight from the finders when nobody ran collectstatic (the `make run` demo).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Cookies are host-only (no SESSION_COOKIE_DOMAIN): a session on acme.* is never sent to globex.*.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Explicit origins only; a wildcard here would let any tenant's page post to any other tenant.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG and BASE_DOMAIN != "localhost")
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Content-Security-Policy (django-csp): our own files only. The one inline script (the QR
# countdown) carries the per-request nonce; the static 500 page's inline style is allowed by its
# hash, computed here so that editing the page cannot silently break it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, *inline_style_hashes(BASE_DIR / "templates" / "500.html")],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# Error pages and error e-mails: a filter and a reporter that never show gateway keys.
DEFAULT_EXCEPTION_REPORTER_FILTER = "whatsapp.security.SafeReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "whatsapp.security.SafeExceptionReporter"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="whatsapp@booqing.local")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# WhatsApp. The endpoint list itself (WHATSAPP_ENDPOINTS) is deliberately NOT copied into
# settings: whatsapp.endpoints reads it from the environment so no settings dump can show a key.
# Per-tenant limits (whatsapp/limits.py; shown to superadmins on each tenant's setup page).
# Each tenant's devices are sessions on a gateway that other tenants share.
WHATSAPP_MAX_DEVICES_PER_TENANT = env.int("WHATSAPP_MAX_DEVICES_PER_TENANT", default=10)
WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT = env.int("WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT", default=20)
# Requests per API token (django-ratelimit syntax: 120/m, 10/s, 5000/h; empty: no limit).
WHATSAPP_API_TOKEN_RATE = env.str("WHATSAPP_API_TOKEN_RATE", default="120/m")
WHATSAPP_WEBHOOK_BASE_URL = env.str("WHATSAPP_WEBHOOK_BASE_URL", default="http://localhost:8000")
# Stored gateway webhook events are deleted after this many days (dedupe needs only recent ones).
WHATSAPP_WEBHOOK_EVENT_RETENTION_DAYS = env.int("WHATSAPP_WEBHOOK_EVENT_RETENTION_DAYS", default=7)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Event endpoints (the booking product's URLs) on loopback/private addresses are refused (SSRF)
# unless this is true: for development and tests only.
WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS = env.bool("WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS", default=False)

REDIS_URL = env.str("REDIS_URL", default="")
# The API rate limit counts in this cache. Redis, when configured, is shared by every process;
# the in-memory default counts per process (docs/security.md says what that means).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_rq.RQBackend",
            "QUEUES": ["default", "events"],
        }
    }
    RQ_QUEUES = {"default": {"URL": REDIS_URL}, "events": {"URL": REDIS_URL}}
    INSTALLED_APPS.append("django_rq")
else:
    # "events": deliveries to the booking product, worked by their own worker (Procfile).
    TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "events"]}
    }

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# text: one readable line per record; json: one JSON object per line for log shippers.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "whatsapp.security.RedactSecretsFilter"},
        "request_context": {"()": "core.request_context.RequestContextFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "core.request_context.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_context", "redact_secrets"],
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["request_context", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # django-axes logs every successful login at INFO; lockouts are logged by our receiver.
        "axes": {"level": "WARNING"},
        "django.request": {
            "handlers": ["console", "mail_admins"],
            "level": "ERROR",
            "propagate": False,
        },
    },
}
ADMINS = [("Platform", a) for a in env.list("DJANGO_ADMINS", default=[])]

NINJA_PAGINATION_PER_PAGE = 50

# prometheus-client's multiprocess mode: every process (gunicorn workers, db_worker, the
# scheduler) writes its counters to files in this directory and /metrics sums them. It must be
# set before prometheus_client is first imported, which is why it lives here. Processes that
# should add up share one directory (scripts/run_demo.sh and gunicorn.conf.py set it); without
# one, each run gets its own temporary directory, so test runs never read each other's counts.
# A directory made up here is marked with its owner's pid: a separate process started from this
# one (a pytest-xdist worker, a subprocess) makes its own instead of adding to the parent's.
_auto_owner = os.environ.get("BOOQING_METRICS_DIR_OWNER")
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR") or _auto_owner not in (None, str(os.getpid())):
    _metrics_dir = tempfile.mkdtemp(prefix="booqing-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
    os.environ["BOOQING_METRICS_DIR_OWNER"] = str(os.getpid())
    _metrics_owner = os.getpid()
    # Only the process that made it removes it: forked children (gunicorn workers) share it.
    atexit.register(
        lambda: os.getpid() == _metrics_owner and shutil.rmtree(_metrics_dir, ignore_errors=True)
    )
