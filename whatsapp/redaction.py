"""redact(): masks every configured gateway key in a text, in each encoding it may travel in.

A key rarely leaks as its exact text: a gateway echoes it URL-encoded in an error, Django's
debug page shows it HTML-escaped, a JSON reply escapes it, a Basic credential base64-encodes it.
Every form of every configured key is masked, wherever a text is logged, reported or stored
(Device.status_detail, EndpointState.last_error, GatewayError messages, ...).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from urllib.parse import quote, quote_plus

from whatsapp.endpoints import registry

REDACTED = "********************"
MIN_SECRET_LENGTH = 4
# A base64 fragment shorter than this could match innocent text by chance.
MIN_BASE64_FRAGMENT = 8


def _base64_fragments(secret: bytes) -> set[str]:
    """The base64 text that `secret` always produces wherever it starts in an encoded blob.

    Base64 encodes 3 bytes as 4 characters, so the secret's encoding depends on its offset
    modulo 3 inside the larger value (e.g. `user:key` in a Basic credential). For each offset,
    the characters that depend only on the secret's bytes are kept.
    """
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        # Skip characters mixed with the padding bytes in front, and the partial group at the end.
        start = (offset * 8 + 5) // 6 if offset else 0
        usable = ((offset + len(secret)) // 3) * 4
        fragment = encoded[start:usable]
        if len(fragment) >= MIN_BASE64_FRAGMENT:
            fragments.add(fragment)
            fragments.add(fragment.replace("+", "-").replace("/", "_"))  # URL-safe alphabet
    return fragments


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern | None:
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        forms |= {
            secret,
            html.escape(secret),
            html.escape(secret, quote=False),
            quote(secret, safe=""),
            quote(secret),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            # HTML-escaped JSON, as a JSON value shown on an HTML page
            html.escape(json.dumps(secret)[1:-1]),
        }
        forms |= {quote(secret, safe="").lower()}  # percent-escapes in lower case
        forms |= _base64_fragments(secret.encode())
    if not forms:
        return None
    # Longest first, so a form that contains another is masked whole.
    alternatives = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in alternatives))


def configured_secrets() -> tuple[str, ...]:
    """Every configured gateway key (and every value a key reference resolved to)."""
    try:
        values = registry().secret_values()
    except Exception:  # a broken registry must never break redaction (or error reporting)
        values = []
    return tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}))


def redact(text: str, secrets: tuple[str, ...] | list[str] | None = None) -> str:
    """`text` with every form of every configured key replaced by asterisks."""
    if not text or not isinstance(text, str):
        return text
    text = str(text)  # a lazy string (e.g. a settings value) proxies str but regexes refuse it
    pattern = _pattern(tuple(sorted(secrets)) if secrets is not None else configured_secrets())
    return pattern.sub(REDACTED, text) if pattern is not None else text


def contains_secret(text: str, secrets: tuple[str, ...] | list[str] | None = None) -> bool:
    return isinstance(text, str) and redact(text, secrets) != text
