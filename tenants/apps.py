"""App configuration for tenants."""

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Importing connects the login signal that restores a person's language (Django's
        # documented place for signal wiring: models are loaded only by now).
        from tenants import locale  # noqa: F401
