"""Helpers for tests against live processes: the simulator's key, its endpoint JSON, and polling."""

from __future__ import annotations

import json
import time

SIM_KEY = "canary-SIMULATOR-key-5d1e0c7b9a2f4e63"


def sim_endpoints(*sims, name_prefix: str = "Sim") -> str:
    entries = [
        {"name": f"{name_prefix}{'' if i == 0 else i + 1}", "apiUrl": s.url, "apiKey": s.api_key}
        for i, s in enumerate(sims)
    ]
    return json.dumps(entries)


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
