"""Helpers for the Playwright tests: where screenshots go, axe-core, viewports, signing in."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# The README's screenshots are refreshed with `UPDATE_SCREENSHOTS=1 make test`; an ordinary run
# writes them to a scratch folder so it never dirties the working tree.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "booqing-screenshots"
)
# `make browser` installs axe-core from npm here when npm is available.
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def assert_fits(page) -> None:
    """Nothing makes the page scroll sideways (tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"""
    )
    assert overflow <= 0, wide


def tenant_url(live_server, subdomain: str) -> str:
    # Chromium resolves every *.localhost name to the loopback address.
    return live_server.url.replace("://localhost", f"://{subdomain}.localhost")


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
