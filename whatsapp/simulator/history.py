"""Simulator extras for reconciling sends: WAHA's chat history route and send faults that
deliver the message but then fail to say so (a 5xx, or a reply slower than the client waits)."""

from __future__ import annotations

import threading
import time
from typing import Any

from whatsapp.simulator.core import Simulator
from whatsapp.simulator.routing import SEGMENT, Request, Response, route
from whatsapp.simulator.state import ACK_NAMES, Message, SimError, digits_of

FAULT_MODES = ("none", "error_after_delivery", "slow_reply_after_delivery")
_faults: dict[int, dict[str, Any]] = {}
_lock = threading.Lock()


def waha_history(messages: list[Message], chat_id: str, limit: int) -> list[dict[str, Any]]:
    """A chat's messages as WAHA's GET /api/{session}/chats/{chatId}/messages lists them:
    newest first, `limit` of them."""
    wanted = digits_of(chat_id)
    chat = [m for m in messages if digits_of(m.chat) == wanted]
    chat.sort(key=lambda m: m.timestamp, reverse=True)
    return [
        {
            "id": m.serialized_id,
            "timestamp": m.timestamp,
            "from": "me@c.us" if m.from_me else m.chat,
            "fromMe": m.from_me,
            "to": m.chat if m.from_me else "me@c.us",
            "body": m.body,
            "hasMedia": False,
            "ack": m.ack,
            "ackName": ACK_NAMES.get(m.ack, "PENDING"),
        }
        for m in chat[: max(1, limit)]
    ]


def evolution_history(messages: list[Message], jid: str, limit: int) -> dict[str, Any]:
    """The same as Evolution's POST /chat/findMessages/{instance} answers (v2, paged records),
    for an Evolution flavour of the simulator to serve."""
    wanted = digits_of(jid)
    chat = sorted(
        (m for m in messages if digits_of(m.chat) == wanted),
        key=lambda m: m.timestamp,
        reverse=True,
    )
    records = [
        {
            "id": m.serialized_id,
            "key": {
                "id": m.serialized_id.rsplit("_", 1)[-1],
                "fromMe": m.from_me,
                "remoteJid": f"{wanted}@s.whatsapp.net",
            },
            "pushName": m.push_name,
            "messageType": "conversation",
            "message": {"conversation": m.body},
            "messageTimestamp": m.timestamp,
            "source": "web",
        }
        for m in chat[: max(1, limit)]
    ]
    pages = 1 if records else 0
    return {"messages": {"total": len(chat), "pages": pages, "currentPage": 1, "records": records}}


@route("GET", f"/api/{SEGMENT}/chats/(?P<chat>[^/]+)/messages")
def chat_messages(api: Any, req: Request) -> Response:
    try:
        limit = int(req.query.get("limit", "100"))
    except ValueError:
        raise SimError(400, "limit must be a number") from None
    sim = api.sim
    with sim.lock:
        session = sim.get(req.params["name"])
        messages = list(session.messages)
    return Response.json(200, waha_history(messages, req.params["chat"], limit))


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
