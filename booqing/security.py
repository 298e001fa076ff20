"""Keeps gateway keys out of error pages, error e-mails and log lines.

Why this exists: WHATSAPP_ENDPOINTS does not match Django's hidden-settings pattern, and `runserver`
copies the whole environment into `request.META`, so Django's default debug page and error e-mails
would print every key. The filter hides the variable by name; the reporter and the logging filter
additionally scrub any configured key value wherever it appears, as a safety net.
"""

from __future__ import annotations

import logging
import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "********************"
# Django's own pattern plus the variables that carry credentials inside a larger value.
HIDDEN_ENV_NAMES = re.compile(
    SafeExceptionReporterFilter.hidden_settings.pattern
    + "|WHATSAPP_ENDPOINTS|DATABASE_URL|REDIS_URL|EMAIL_URL",
    flags=re.I,
)
MIN_SECRET_LENGTH = 4
# Each device's webhook URL ends in its secret token (a capability URL): never in a log line.
WEBHOOK_TOKEN_IN_PATH = re.compile(r"(/api/whatsapp/webhooks/[0-9a-fA-F-]{32,36}/)[^/\s?#\"']+")


def secret_values() -> list[str]:
    """Every configured gateway key and every environment value that a key reference points to."""
    try:
        from whatsapp.endpoints import registry

        values = registry().secret_values()
    except Exception:  # a broken registry must never break error reporting itself
        values = []
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """Replace every known secret value (and webhook URL tokens) in `text`."""
    if not text:
        return text
    text = WEBHOOK_TOKEN_IN_PATH.sub(r"\g<1>" + REDACTED, text)
    for value in secret_values() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: hide WHATSAPP_ENDPOINTS and any value that contains a known key."""

    hidden_settings = HIDDEN_ENV_NAMES

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        secrets = secret_values()
        for name, value in list(meta.items()):
            contains_secret = isinstance(value, str) and any(s in value for s in secrets)
            if HIDDEN_ENV_NAMES.search(name) or contains_secret:
                meta[name] = self.cleansed_substitute
        return meta

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return scrub(value)
        return value


class SafeExceptionReporter(ExceptionReporter):
    """Renders Django's debug page / error e-mail, then scrubs known key values from the output."""

    def get_traceback_html(self):
        return scrub(str(super().get_traceback_html()))

    def get_traceback_text(self):
        return scrub(str(super().get_traceback_text()))


class RedactSecretsFilter(logging.Filter):
    """A logging filter that masks every configured key in the message, its args and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        try:
            message = record.getMessage()
        except Exception:  # a badly formatted record is still logged, just not rewritten
            return True
        cleaned = scrub(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        return True
