"""Helpers for tests against live processes: the simulator's key and its endpoint JSON, and
waiting on the scheduler's webhook step (other polling is gateway_simulator.testing.wait_until)."""

from __future__ import annotations

import json

from gateway_simulator.testing import wait_until
from whatsapp import services
from whatsapp.models import Device

SIM_KEY = "canary-SIMULATOR-key-5d1e0c7b9a2f4e63"


def sim_endpoints(*sims, name_prefix: str = "Sim") -> str:
    entries = [
        {"name": f"{name_prefix}{'' if i == 0 else i + 1}", "apiUrl": s.url, "apiKey": s.api_key}
        for i, s in enumerate(sims)
    ]
    return json.dumps(entries)


def process_webhooks_until(predicate, *, timeout: float = 10.0):
    """Run the scheduler's webhook step until `predicate` holds; returns its last answer."""

    def step():
        services.webhook_events_process_due()
        return predicate()

    return wait_until(step, timeout=timeout)


def pair_front_desk(simulator, tenant, actor) -> Device:
    """`actor` adds the tenant's "Front desk", its phone links on the simulator, and the webhooks
    are processed until it shows connected (the object returned is as device_create left it)."""
    device = services.device_create(tenant=tenant, name="Front desk", actor=actor)
    simulator.pair(device.session_name)
    process_webhooks_until(lambda: Device.objects.get(pk=device.pk).is_connected)
    return device
