"""What the gateway adapter tests share: the canary API key that must never show, the per-device
webhook secret, and readers of the recorded payloads in whatsapp/tests/fixtures/<flavour>/."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

CANARY = "canary-key-DO-NOT-LEAK-1234567890"
SECRET = "per-device-webhook-secret"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_readers(folder: Path) -> tuple[Callable[[str], dict], Callable[[str], bytes]]:
    """(fixture, raw_fixture): a payload in `folder` parsed as JSON, and as the bytes it is."""

    def fixture(name: str) -> dict:
        return json.loads((folder / name).read_text())

    def raw_fixture(name: str) -> bytes:
        return (folder / name).read_bytes()

    return fixture, raw_fixture


def assert_no_canary(error) -> None:
    """The GatewayError shows the API key nowhere: not as text, repr or message."""
    for text in (str(error), repr(error), error.message):
        assert CANARY not in text
