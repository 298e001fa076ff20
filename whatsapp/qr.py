"""QR codes rendered as inline SVG (segno): the gateway gives us the raw value, we draw it."""

from __future__ import annotations

import segno


def qr_svg(value: str, *, scale: int = 5) -> str:
    """An inline <svg> element (no XML declaration) for embedding in a page or a JSON reply."""
    qr = segno.make(value, error="m")
    return qr.svg_inline(scale=scale, dark="#111827", light="#ffffff", border=2)
