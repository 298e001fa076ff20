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

from whatsapp.redaction import REDACTED, configured_secrets, redact

# Django's own pattern plus the variables that carry credentials inside a larger value.
HIDDEN_ENV_NAMES = re.compile(
    SafeExceptionReporterFilter.hidden_settings.pattern
    + "|WHATSAPP_ENDPOINTS|DATABASE_URL|REDIS_URL|EMAIL_URL",
    flags=re.I,
)
# Each device's webhook URL ends in its secret token (a capability URL): never in a log line.
WEBHOOK_TOKEN_IN_PATH = re.compile(r"(/api/whatsapp/webhooks/[0-9a-fA-F-]{32,36}/)[^/\s?#\"']+")


def secret_values() -> list[str]:
    """Every configured gateway key and every environment value that a key reference points to."""
    return list(configured_secrets())


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """Replace every known secret value in `text`, raw or encoded (whatsapp.redaction), and the
    secret token at the end of a device's webhook URL."""
    if not text:
        return text
    text = str(text)  # settings may hold lazy strings
    return redact(WEBHOOK_TOKEN_IN_PATH.sub(r"\g<1>" + REDACTED, text), secrets)


# An Authorization header's value in any spelling a log line may hold it: quoted in a repr or
# JSON (`'HTTP_AUTHORIZATION': 'X'`), as a header line (`Authorization: X` to the end of the
# line), or as logfmt (`authorization=X`, up to the next space); and, below, credentials of the
# usual schemes wherever they stand.
_AUTH_QUOTED = re.compile(
    r"""(?P<name>authorization["']?\s*[:=]\s*)(?P<q>["'])(?P<value>.*?)(?<!\\)(?P=q)""", re.I
)
_AUTH_HEADER = re.compile(r"""(?P<name>authorization\s*:\s*)(?!["'])(?P<value>[^\r\n]+)""", re.I)
_AUTH_LOGFMT = re.compile(r"""(?P<name>authorization=)(?!["'])(?P<value>\S+)""", re.I)
# Standalone: the schemes as headers spell them (capitalised), so prose such as "token created"
# is left alone.
_SCHEME_CREDENTIALS = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Digest|Negotiate|AWS4-HMAC-SHA256)\s+(?P<value>[A-Za-z0-9._~+/=:-]{8,})"
)


def scrub_authorization(text: str) -> str:
    """Mask every Authorization value in `text`, whatever its scheme (Bearer, Basic, ...)."""
    if not text:
        return text
    text = _AUTH_QUOTED.sub(lambda m: m["name"] + m["q"] + REDACTED + m["q"], text)
    text = _AUTH_HEADER.sub(lambda m: m["name"] + REDACTED, text)
    text = _AUTH_LOGFMT.sub(lambda m: m["name"] + REDACTED, text)
    return _SCHEME_CREDENTIALS.sub(lambda m: m["scheme"] + " " + REDACTED, text)


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: hide WHATSAPP_ENDPOINTS and any value that contains a known key."""

    hidden_settings = HIDDEN_ENV_NAMES

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        secrets = secret_values()
        for name, value in list(meta.items()):
            contains_secret = isinstance(value, str) and redact(value, secrets) != value
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
        cleaned = scrub_authorization(scrub(message, secrets))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_authorization(scrub(record.exc_text, secrets))
        return True
