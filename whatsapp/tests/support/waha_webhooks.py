"""Build and sign WAHA webhook deliveries the way a gateway does, for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

ME = {"id": "6281100000000@c.us", "pushName": "Front desk"}
ACK_NUMBERS = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}


def envelope(event: str, session: str, payload: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "timestamp": int(time.time() * 1000),
        "event": event,
        "session": session,
        "metadata": {},
        "me": ME,
        "engine": "WEBJS",
        "payload": payload,
    }


def inbound_message(
    session: str,
    *,
    contact: str = "6281234567890",
    text: str = "Hello",
    message_id: str | None = None,
    push_name: str = "Budi",
    event_id: str | None = None,
) -> dict:
    """An incoming `message` event from `contact` (digits, no plus)."""
    short_id = message_id or f"3EB0{uuid.uuid4().hex[:12].upper()}"
    return envelope(
        "message",
        session,
        {
            "id": f"false_{contact}@c.us_{short_id}",
            "timestamp": int(time.time()),
            "from": f"{contact}@c.us",
            "fromMe": False,
            "body": text,
            "hasMedia": False,
            "_data": {"notifyName": push_name},
        },
        event_id=event_id,
    )


def ack(session: str, short_id: str, ack_name: str, *, contact: str = "6281234567890") -> dict:
    """A `message.ack` for one of our outbound messages."""
    return envelope(
        "message.ack",
        session,
        {
            "id": f"true_{contact}@c.us_{short_id}",
            "from": ME["id"],
            "to": f"{contact}@c.us",
            "fromMe": True,
            "ack": ACK_NUMBERS[ack_name],
            "ackName": ack_name,
        },
    )


def encode(delivery: dict) -> bytes:
    return json.dumps(delivery, separators=(",", ":")).encode()


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def signed_headers(body: bytes, secret: str, *, at: float | None = None) -> dict[str, str]:
    """The headers WAHA sends with an HMAC key: signature, algorithm, request id, timestamp."""
    at = time.time() if at is None else at
    return {
        "X-Webhook-Hmac": signature(body, secret),
        "X-Webhook-Hmac-Algorithm": "sha512",
        "X-Webhook-Request-Id": str(uuid.uuid4()),
        "X-Webhook-Timestamp": str(int(at * 1000)),
    }


def url(device_or_id) -> str:
    """Our webhook URL for a device (or its webhook id)."""
    webhook_id = getattr(device_or_id, "webhook_id", device_or_id)
    return f"/api/whatsapp/webhooks/{webhook_id}"
