"""Bare Django settings: the same DATABASE_URL and connection settings as booqing.settings,
nothing else (no installed apps, no middleware, no templates)."""

from __future__ import annotations

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = "bench-baseline-not-secret"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.baseline_app.urls"
USE_TZ = True
TIME_ZONE = "Asia/Jakarta"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {"default": env.db("DATABASE_URL")}
# The same persistent-connection settings the product uses on PostgreSQL (booqing/settings.py),
# so both sides pay the same per-request database cost.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
}
