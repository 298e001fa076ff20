"""App configuration for whatsapp: registers the system checks and reports config problems."""

import logging

from django.apps import AppConfig

logger = logging.getLogger("whatsapp")


class WhatsAppConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from whatsapp import (
            checks,  # noqa: F401  (registers the checks)
            signals,  # noqa: F401  (starter templates for new tenants)
        )
        from whatsapp.endpoints import registry

        # gunicorn and the workers do not run system checks, so say it in the log as well.
        for problem in registry().problems:
            if not problem.is_warning:
                logger.error("whatsapp.%s %s %s", problem.code, problem.message, problem.hint)
