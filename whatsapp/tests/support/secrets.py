"""Assertions that no canary key (booqing/test.py) shows in a text or a whole response."""

from __future__ import annotations

from tenants.test import CANARY_KEYS


def assert_no_canary(text: str, where: str = "") -> None:
    for key in CANARY_KEYS:
        assert key not in text, f"canary key leaked {where}"


def response_text(response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    return headers + "\n" + response.content.decode(errors="replace")
