"""System checks that validate WHATSAPP_ENDPOINTS at startup and in `manage.py check`."""

from __future__ import annotations

from django.core import checks

from whatsapp.endpoints import registry


@checks.register("whatsapp")
def check_endpoints(app_configs=None, **kwargs):
    messages = []
    for problem in registry().problems:
        cls = checks.Warning if problem.is_warning else checks.Error
        messages.append(cls(problem.message, hint=problem.hint, id=f"whatsapp.{problem.code}"))
    return messages
