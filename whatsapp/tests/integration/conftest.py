"""Integration fixtures: `gateway` is a live simulator of each flavour (not the HTTP mock above);
`acme` is tenant A assigned to the single `simulator`."""

from __future__ import annotations

import json

import pytest

from gateway_simulator.testing import start_simulator_process
from whatsapp import services
from whatsapp.tests.support.live import SIM_KEY

FLAVOURS = ["waha-core", "waha-plus", "evolution"]


@pytest.fixture
def acme(cast, simulator, webhooks_to_live_server):
    """Tenant A on endpoint "Sim" (the `simulator`), whose webhooks reach the live server."""
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    return cast.tenant_a


@pytest.fixture(params=FLAVOURS)
def gateway(request, monkeypatch):
    """One simulator of the flavour, configured as endpoint "Sim" with its provider.

    A module that needs fewer flavours narrows it with
    `pytest.mark.parametrize("gateway", [...], indirect=True)`.
    """
    sim = start_simulator_process(
        api_key=SIM_KEY, flavor=request.param, start_delay=0.05, ack_delays=[0.1, 0.2, 0.3]
    )
    endpoint = {"name": "Sim", "apiUrl": sim.url, "apiKey": SIM_KEY, "provider": sim.provider}
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps([endpoint]))
    yield sim
    sim.stop()
