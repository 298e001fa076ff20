"""App configuration for tenants."""

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing connects signal receivers (Django's documented place for signal wiring:
        # models are loaded only by now): the lockout alert and the language restored at login.
        from tenants import locale, lockouts  # noqa: F401
