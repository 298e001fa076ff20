"""The simulated gateway: session lifecycle, QR rotation, pairing, sends, acks, inbound messages."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from typing import Any

from whatsapp.simulator.scheduler import Scheduler
from whatsapp.simulator.state import (
    ACK_NAMES,
    Knobs,
    Message,
    Session,
    SimError,
    digits_of,
    new_lid,
    new_message_id,
    new_phone,
    now_ms,
    validate_session_name,
)
from whatsapp.simulator.webhooks import WebhookDispatcher

PAIRED = "paired"
EXPIRED = "expired"
ALREADY_LINKED = "already_linked"


class Simulator:
    def __init__(self, *, api_key: str, public_url: str, knobs: Knobs | None = None) -> None:
        self.api_key = api_key
        self.public_url = public_url.rstrip("/")
        self.initial_knobs = (knobs or Knobs()).copy()
        self.knobs = self.initial_knobs.copy()
        self.lock = threading.RLock()
        self.sessions: dict[str, Session] = {}
        # Global, not per session: a session re-created under the same name must not revive
        # the old one's timers.
        self._generations = itertools.count(1)
        self.scheduler = Scheduler()
        self.webhooks = WebhookDispatcher(self.scheduler, lambda: self.knobs)

    def close(self) -> None:
        self.scheduler.stop()
        self.webhooks.close()

    # -- sessions --

    def get(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            raise SimError(404, f"Session '{name}' does not exist")
        return session

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = validate_session_name(body.get("name", "default"))
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise SimError(400, "config must be an object")
        with self.lock:
            if name in self.sessions:
                raise SimError(422, f"Session '{name}' already exists")
            session = Session(name=name, config=config)
            self.sessions[name] = session
            if body.get("start", True):
                self._start(session)
            return session.to_json()

    def update(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        config = body.get("config")
        if not isinstance(config, dict):
            raise SimError(400, "config must be an object")
        with self.lock:
            session = self.get(name)
            session.config = config
            # WAHA restarts a running session to apply a new config.
            if session.status != "STOPPED":
                self._start(session)
            return session.to_json()

    def start(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            if session.status in ("STOPPED", "FAILED"):
                self._start(session)
            return session.to_json()

    def stop(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            self._halt(session, "STOPPED")
            return session.to_json()

    def restart(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            self._start(session)
            return session.to_json()

    def logout(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            session.identity = None
            self._start(session)
            return session.to_json()

    def delete(self, name: str) -> None:
        with self.lock:
            session = self.sessions.pop(name, None)
            if session is not None:
                session.generation = next(self._generations)

    def drop(self, name: str, status: str = "STOPPED", *, logout: bool = False) -> dict[str, Any]:
        if status not in ("STOPPED", "FAILED"):
            raise SimError(400, "status must be STOPPED or FAILED")
        with self.lock:
            session = self.get(name)
            if logout:
                session.identity = None
            self._halt(session, status)
            return session.to_json()

    def list_sessions(self) -> list[dict[str, Any]]:
        with self.lock:
            return [session.to_json() for session in self.sessions.values()]

    def reset(self) -> None:
        with self.lock:
            for session in self.sessions.values():
                session.generation = next(self._generations)
            self.sessions.clear()
            self.scheduler.clear()
            self.webhooks.reset()
            self.knobs = self.initial_knobs.copy()

    # -- lifecycle internals (caller holds the lock) --

    def _start(self, session: Session) -> None:
        session.generation = generation = next(self._generations)
        session.qr_token = None
        self._set_status(session, "STARTING")
        self.scheduler.call_later(self.knobs.start_delay, self._started, session.name, generation)

    def _started(self, name: str, generation: int) -> None:
        with self.lock:
            session = self.sessions.get(name)
            if session is None or session.generation != generation:
                return
            if session.identity:
                self._set_status(session, "WORKING")
            else:
                self._new_qr(session, first=True)

    def _new_qr(self, session: Session, *, first: bool) -> None:
        session.qr_count = 1 if first else session.qr_count + 1
        session.qr_token = secrets.token_urlsafe(12)
        ttl = self.knobs.qr_first_ttl if first else self.knobs.qr_next_ttl
        session.qr_expires_at = time.time() + ttl
        self._set_status(session, "SCAN_QR_CODE")
        self.scheduler.call_later(
            ttl, self._qr_expired, session.name, session.generation, session.qr_token
        )

    def _qr_expired(self, name: str, generation: int, token: str) -> None:
        with self.lock:
            session = self.sessions.get(name)
            if session is None or session.generation != generation or session.qr_token != token:
                return
            if session.qr_count >= self.knobs.qr_max:
                self._halt(session, "FAILED")
            else:
                self._new_qr(session, first=False)

    def _halt(self, session: Session, status: str) -> None:
        session.generation = next(self._generations)
        session.qr_token = None
        if session.status != status:
            self._set_status(session, status)

    def _set_status(self, session: Session, status: str) -> None:
        session.status = status
        session.statuses.append({"status": status, "timestamp": now_ms()})
        del session.statuses[:-10]
        payload = {"name": session.name, "status": status, "statuses": list(session.statuses)}
        self._emit(session, "session.status", payload)

    def _emit(self, session: Session, event: str, payload: dict[str, Any]) -> str:
        return self.webhooks.emit(
            hooks=session.webhooks,
            event=event,
            session=session.name,
            metadata=session.metadata,
            me=session.me,
            payload=payload,
        )

    # -- QR and pairing --

    def phone_link(self, session: Session) -> str:
        return f"{self.public_url}/phone/{session.name}?code={session.qr_token}"

    def qr_value(self, name: str) -> str:
        with self.lock:
            session = self.get(name)
            if session.status != "SCAN_QR_CODE" or not session.qr_token:
                raise SimError(
                    422,
                    f"Session '{name}' is in status {session.status}, expected SCAN_QR_CODE",
                )
            return self.phone_link(session)

    def pair(self, name: str, code: str, *, phone: str | None = None) -> str:
        """Link a phone by the code from a QR; returns PAIRED, EXPIRED or ALREADY_LINKED."""
        with self.lock:
            session = self.get(name)
            if session.status == "SCAN_QR_CODE" and code and code == session.qr_token:
                number = digits_of(phone or "") or new_phone()
                session.identity = {"id": f"{number}@c.us", "pushName": "Simulated Phone"}
                session.generation = next(self._generations)
                session.qr_token = None
                self._set_status(session, "WORKING")
                return PAIRED
            if session.status == "WORKING":
                return ALREADY_LINKED
            return EXPIRED

    # -- messages --

    def require_working(self, name: str) -> Session:
        session = self.get(name)
        if session.status != "WORKING":
            raise SimError(
                422,
                "Session status is not as expected. Try again later or restart the session. "
                f"Session: '{name}', status: '{session.status}', expected: 'WORKING'",
            )
        return session

    def number_exists(self, number: str) -> bool:
        return digits_of(number) not in self.knobs.not_on_whatsapp

    def send_text(self, body: dict[str, Any]) -> dict[str, Any]:
        name, chat_id, text = body.get("session", "default"), body.get("chatId"), body.get("text")
        if not isinstance(chat_id, str) or not chat_id.endswith("@c.us") or not digits_of(chat_id):
            raise SimError(400, "chatId must look like 6281234567890@c.us")
        if not isinstance(text, str):
            raise SimError(400, "text must be a string")
        with self.lock:
            session = self.require_working(str(name))
            if not self.number_exists(chat_id):
                raise SimError(400, "number not on WhatsApp")
            short_id = new_message_id()
            serialized = f"true_{chat_id}_{short_id}"
            timestamp = int(time.time())
            session.messages.append(
                Message(
                    serialized_id=serialized,
                    from_me=True,
                    chat=chat_id,
                    body=text,
                    timestamp=timestamp,
                )
            )
            me = session.identity["id"] if session.identity else ""
            # Delays are offsets from the send, so [0.2, 0.5, 1.0] means sent, delivered, read.
            for level, delay in enumerate(self.knobs.ack_delays[:4], start=1):
                self.scheduler.call_later(
                    delay, self._ack, session.name, serialized, chat_id, level
                )
        return self._send_reply(serialized, short_id, me, chat_id, text, timestamp)

    def _send_reply(
        self, serialized: str, short_id: str, me: str, chat_id: str, text: str, timestamp: int
    ) -> dict[str, Any]:
        shape = self.knobs.send_reply_shape
        if shape == "empty":
            return {}
        if shape == "key":
            return {
                "key": {"remoteJid": chat_id, "fromMe": True, "id": short_id},
                "status": "PENDING",
                "messageTimestamp": timestamp,
            }
        message_id: Any = serialized
        if shape == "object":
            message_id = {
                "fromMe": True,
                "remote": chat_id,
                "id": short_id,
                "_serialized": serialized,
            }
        return {
            "id": message_id,
            "timestamp": timestamp,
            "from": me,
            "to": chat_id,
            "fromMe": True,
            "body": text,
            "hasMedia": False,
            "ack": 0,
            "ackName": "PENDING",
        }

    def _ack(self, name: str, serialized: str, chat_id: str, level: int) -> None:
        with self.lock:
            session = self.sessions.get(name)
            # Acks from before a logout or delete would belong to a phone that is gone.
            if session is None or session.identity is None:
                return
            for message in session.messages:
                if message.serialized_id == serialized:
                    message.ack = max(message.ack, level)
            payload = {
                "id": serialized,
                "from": session.identity["id"],
                "to": chat_id,
                "fromMe": True,
                "ack": level,
                "ackName": ACK_NAMES[level],
            }
            self._emit(session, "message.ack", payload)

    def inbound(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        number = digits_of(str(body.get("from") or ""))
        text = body.get("body")
        if not number:
            raise SimError(400, "from must be a phone number such as 6281100000001")
        if not isinstance(text, str):
            raise SimError(400, "body must be a string")
        push_name = str(body.get("pushName") or f"Contact {number[-4:]}")
        with self.lock:
            session = self.require_working(name)
            if body.get("lid"):
                sender = f"{session.lids.setdefault(number, new_lid())}@lid"
            else:
                sender = f"{number}@c.us"
            serialized = f"false_{sender}_{new_message_id()}"
            timestamp = int(time.time())
            session.messages.append(
                Message(
                    serialized_id=serialized,
                    from_me=False,
                    chat=sender,
                    body=text,
                    timestamp=timestamp,
                    push_name=push_name,
                )
            )
            payload = {
                "id": serialized,
                "timestamp": timestamp,
                "from": sender,
                "fromMe": False,
                "to": session.identity["id"] if session.identity else None,
                "body": text,
                "hasMedia": False,
                "_data": {"notifyName": push_name, "pushName": push_name},
            }
            event_id = self._emit(session, "message", payload)
        return {"id": serialized, "from": sender, "timestamp": timestamp, "event_id": event_id}

    def lid_lookup(self, name: str, value: str) -> dict[str, Any]:
        """WAHA's GET /api/{session}/lids/...: maps a hidden @lid sender to its phone number."""
        with self.lock:
            session = self.get(name)
            wanted = digits_of(value)
            for number, lid in session.lids.items():
                if wanted in (lid, number):
                    return {"lid": f"{lid}@lid", "pn": f"{number}@c.us"}
        raise SimError(404, f"No LID mapping for '{value}'")

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            sessions = []
            for session in self.sessions.values():
                data = session.to_json()
                data["paired"] = session.identity is not None
                data["qr"] = {
                    "value": self.phone_link(session) if session.qr_token else None,
                    "count": session.qr_count,
                    "expires_at": session.qr_expires_at if session.qr_token else None,
                }
                data["statuses"] = list(session.statuses)
                sessions.append(data)
            return {"sessions": sessions, "knobs": self.knobs.as_dict()}
