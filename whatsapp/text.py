"""Text that databases can store: NULs and lone surrogates replaced, timestamps clamped.

WhatsApp text is whatever a contact's phone sent, and JSON can carry `\\u0000` and unpaired
`\\ud800` escapes that no UTF-8 column accepts (PostgreSQL refuses NUL in text and jsonb; both
databases refuse surrogates). Text from a gateway is never refused for its characters: it is
cleaned here at the seams where it is parsed or stored. Text a user types into the API is
checked with `has_unstorable()` and refused with a clear message instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

REPLACEMENT = "\ufffd"
# NUL and every surrogate code point: a valid pair was already combined by the JSON decoder,
# so any surrogate left in a Python string is a lone one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Dates a database column (and Python) can hold comfortably; anything else is nonsense.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def clean_text(value: str) -> str:
    """`value` with NULs and lone surrogates replaced by U+FFFD (valid pairs are kept joined)."""
    if not _UNSTORABLE.search(value):
        return value
    if re.search("[\ud800-\udbff][\udc00-\udfff]", value):
        # A pair split into two code points (e.g. from a CESU-8 source): join it first.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _UNSTORABLE.sub(REPLACEMENT, value)


def clean_optional(value: str | None) -> str | None:
    return clean_text(value) if isinstance(value, str) else value


def has_unstorable(value: Any, *, depth: int = 0) -> bool:
    """True when a string anywhere in a parsed JSON value has a NUL or a lone surrogate."""
    if depth > 64:
        return True  # nobody's real request nests this deep
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(
            has_unstorable(k, depth=depth + 1) or has_unstorable(v, depth=depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(has_unstorable(v, depth=depth + 1) for v in value)
    return False


def clamp_datetime(value: datetime | None) -> datetime | None:
    """None for a date outside 1970-9000 (a gateway's absurd timestamp), else `value`."""
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value if EARLIEST <= value <= LATEST else None
    except (OverflowError, ValueError):
        return None
