"""Fixtures for tests that talk to a live gateway simulator process and a live Django server."""

from __future__ import annotations

import json
import time

import pytest

from whatsapp.simulator.testing import start_simulator_process

SIM_KEY = "canary-SIMULATOR-key-5d1e0c7b9a2f4e63"


def sim_endpoints(*sims, name_prefix: str = "Sim") -> str:
    entries = [
        {"name": f"{name_prefix}{'' if i == 0 else i + 1}", "apiUrl": s.url, "apiKey": s.api_key}
        for i, s in enumerate(sims)
    ]
    return json.dumps(entries)


@pytest.fixture
def simulator(monkeypatch):
    """A WAHA-compatible simulator in its own process, configured as endpoint "Sim"."""
    sim = start_simulator_process(api_key=SIM_KEY, start_delay=0.05, ack_delays=[0.1, 0.2, 0.3])
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", sim_endpoints(sim))
    yield sim
    sim.stop()


@pytest.fixture
def webhooks_to_live_server(live_server, settings):
    """Gateways post webhooks to the live test server."""
    settings.WHATSAPP_WEBHOOK_BASE_URL = live_server.url
    return live_server


def wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns something truthy (for asynchronous webhooks)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)
