"""What the gateway adapter tests share: the canary API key that must never show, the per-device
webhook secret, readers of the recorded payloads in whatsapp/tests/fixtures/<flavour>/, and an
adapter of each kind on its own HTTP session."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from whatsapp.endpoints import EndpointConfig, Secret
from whatsapp.gateways import EvolutionGateway, WahaGateway
from whatsapp.gateways.base import new_http_session

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


def waha_gateway(url: str, key: str, name: str = "Waha") -> WahaGateway:
    """A WAHA adapter for endpoint `name` at `url` with API key `key`."""
    config = EndpointConfig(name=name, api_url=url, api_key=Secret(key), provider="waha")
    return WahaGateway(config, session=new_http_session())


def evolution_gateway(url: str, key: str, name: str = "Evo") -> EvolutionGateway:
    """An Evolution API adapter for endpoint `name` at `url` with API key `key`."""
    config = EndpointConfig(name=name, api_url=url, api_key=Secret(key), provider="evolution")
    return EvolutionGateway(config, session=new_http_session())
