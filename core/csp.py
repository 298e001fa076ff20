"""Content-Security-Policy helpers read by settings (no Django imports: settings load first)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def inline_style_hashes(template: Path) -> list[str]:
    """CSP 'sha256-...' sources for the <style> blocks of a static template (e.g. 500.html)."""
    try:
        text = template.read_text(encoding="utf-8")
    except OSError:
        return []
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in _STYLE.findall(text)
    ]
