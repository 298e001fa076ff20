"""Simulator send faults for reconciliation tests: the message is delivered, then the gateway
fails to say so (a 5xx, or a reply slower than the client waits). Chat history itself is served
by each flavour (server.py for WAHA, evolution.py for Evolution)."""

from __future__ import annotations

import threading
import time
from typing import Any

from gateway_simulator.core import Simulator
from gateway_simulator.routing import Request, Response, route
from gateway_simulator.state import SimError

FAULT_MODES = ("none", "error_after_delivery", "slow_reply_after_delivery")
_faults: dict[int, dict[str, Any]] = {}
_lock = threading.Lock()


@route("POST", "/_sim/send-fault")
def configure_fault(api: Any, req: Request) -> Response:
    """{"mode": "error_after_delivery" | "slow_reply_after_delivery" | "none", "status": 500,
    "delay": seconds, "count": how many sends it affects (default 1)}."""
    body = req.json()
    mode = body.get("mode", "none")
    if mode not in FAULT_MODES:
        raise SimError(400, f"mode must be one of {', '.join(FAULT_MODES)}")
    try:
        fault = {
            "mode": mode,
            "status": int(body.get("status", 500)),
            "delay": float(body.get("delay", 0)),
            "count": int(body.get("count", 1)),
        }
    except (TypeError, ValueError):
        raise SimError(400, "status, delay and count must be numbers") from None
    if not 500 <= fault["status"] <= 599 or fault["delay"] < 0:
        raise SimError(400, "status must be 5xx and delay not negative")
    with _lock:
        _faults[id(api.sim)] = fault
    return Response.json(200, fault)


def after_delivery(sim: Simulator) -> None:
    """Called once a send has been delivered: maybe fail to say so, as the fault asks."""
    with _lock:
        fault = _faults.get(id(sim))
        if not fault or fault["mode"] == "none" or fault["count"] <= 0:
            return
        fault["count"] -= 1
        mode, status, delay = fault["mode"], fault["status"], fault["delay"]
    if delay:
        time.sleep(delay)
    if mode == "error_after_delivery":
        raise SimError(status, "Simulated gateway failure after the message was sent")
