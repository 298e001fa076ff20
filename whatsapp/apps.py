"""App configuration for whatsapp: registers the system checks and reports config problems."""

import logging

from django.apps import AppConfig

logger = logging.getLogger("whatsapp")


class WhatsAppConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: these import models (via services), which Django loads only
        # after every app's config module has been imported.
        from whatsapp import (
            checks,  # noqa: F401  (registers the checks)
            signals,  # noqa: F401  (starter templates for new tenants)
            tasks,  # noqa: F401  (registers the tasks services enqueue through whatsapp.queue)
        )
        from whatsapp.endpoints import registry

        # gunicorn and the workers do not run system checks, so say it in the log as well.
        for problem in registry().problems:
            if not problem.is_warning:
                logger.error("whatsapp.%s %s %s", problem.code, problem.message, problem.hint)
