"""The simulated gateway: session lifecycle, QR rotation, pairing, sends, acks, inbound messages."""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gateway_simulator.flavors import CORE_ONLY_DEFAULT, DEFAULT_FLAVOR, Flavor, flavor_named
from gateway_simulator.scheduler import Scheduler
from gateway_simulator.state import (
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
from gateway_simulator.webhooks import Style, WebhookDispatcher

CORE_STYLE = Style(sign=False, retries=False, request_headers=False, user_agent="WAHA/2024.10.8")
EVOLUTION_STYLE = Style(
    sign=False,
    retries=True,
    retry_client_errors=False,
    request_headers=False,
    user_agent="axios/1.12.2",
    default_attempts=3,
    default_delay=5.0,
)
DEFAULT = "default"
PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"

PAIRED = "paired"
EXPIRED = "expired"
ALREADY_LINKED = "already_linked"


class NotReady(SimError):
    """WAHA's answer when a session is not in the status a call needs (recorded shape)."""

    def __init__(self, session: Session, expected: str) -> None:
        super().__init__(
            422,
            "Session status is not as expected. Try again later or restart the session",
        )
        self.body = {
            "error": self.message,
            "session": session.name,
            "status": session.status,
            "expected": [expected],
        }


class Simulator:
    def __init__(
        self,
        *,
        api_key: str,
        public_url: str,
        knobs: Knobs | None = None,
        flavor: str | Flavor = DEFAULT_FLAVOR,
    ) -> None:
        self.api_key = api_key
        self.public_url = public_url.rstrip("/")
        self.flavor = flavor_named(flavor) if isinstance(flavor, str) else flavor
        self.initial_knobs = (knobs or Knobs()).copy()
        self.knobs = self.initial_knobs.copy()
        self.lock = threading.RLock()
        self.sessions: dict[str, Session] = {}
        # Global, not per session: a session re-created under the same name must not revive
        # the old one's timers.
        self._generations = itertools.count(1)
        self.scheduler = Scheduler()
        self.webhooks = WebhookDispatcher(self.scheduler, lambda: self.knobs)
        # WAHA Core keeps the config of a removed `default` session that `create` with
        # start:false stored (it starts with POST /api/sessions/start).
        self.core_pending_config: dict[str, Any] | None = None
        self.changes = 0  # bumped on every change worth saving to the state file
        self.event_sink: Callable[[Simulator, Session, str, dict[str, Any]], None] | None = None
        self._fresh()

    def _fresh(self) -> None:
        # A fresh WAHA Core server already has `default`, STOPPED, with no config.
        if self.flavor.is_core:
            self.sessions[DEFAULT] = Session(name=DEFAULT, config=None)  # type: ignore[arg-type]

    def close(self) -> None:
        self.scheduler.stop()
        self.webhooks.close()

    def touch(self) -> None:
        self.changes += 1

    # -- WAHA Core's one-session rule --

    def only_default(self, name: str) -> None:
        if self.flavor.only_default and name != DEFAULT:
            raise SimError(422, CORE_ONLY_DEFAULT)

    def running(self, name: str) -> Session:
        """The session a call needs started: WAHA answers 404 when it is stopped or gone."""
        self.only_default(name)
        session = self.sessions.get(name)
        if self.flavor.is_core and (session is None or session.status == "STOPPED"):
            raise SimError(
                404,
                f"We didn't find a session with name '{name}'.\n"
                f"Please start it first by using POST /api/sessions/{name}/start request",
            )
        if session is None:
            raise SimError(404, f"Session '{name}' does not exist")
        return session

    def wait_for(self, name: str, wanted: str) -> Session:
        """Hold the request up to not_ready_delay for `wanted`, as WAHA does, then answer 422."""
        deadline = time.monotonic() + self.knobs.not_ready_delay
        while True:
            with self.lock:
                session = self.running(name)
                if session.status == wanted:
                    return session
                if time.monotonic() >= deadline:
                    if self.flavor.is_core:
                        raise NotReady(session, wanted)
                    raise SimError(
                        422,
                        "Session status is not as expected. Try again later or restart the "
                        f"session. Session: '{name}', status: '{session.status}', "
                        f"expected: '{wanted}'",
                    )
            time.sleep(0.05)

    def _pause_after_stop(self) -> None:
        if self.knobs.stop_delay:
            time.sleep(self.knobs.stop_delay)

    # -- sessions --

    def get(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            raise SimError(404, f"Session '{name}' does not exist")
        return session

    def info(self, name: str) -> dict[str, Any] | None:
        """GET /api/sessions/{name}: None when WAHA would answer 404 "Session not found"."""
        with self.lock:
            session = self.sessions.get(name)
            if session is None or (self.flavor.only_default and name != DEFAULT):
                return None
            return self.session_json(session)

    def session_json(self, session: Session) -> dict[str, Any]:
        data = session.to_json()
        if not self.flavor.hides_hmac_key:
            data["config"] = session.config  # Core echoes the HMAC key in plain text
        if self.flavor.is_core:
            running = session.status != "STOPPED"
            data["engine"] = {"engine": self.flavor.engine} if running else {}
        return data

    def create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        config = body.get("config")
        if config is not None and not isinstance(config, dict):
            raise SimError(400, ["config must be an object"])
        problems = validate_config(config or {})
        if problems:
            raise SimError(400, problems)
        if self.flavor.only_default:
            name = body.get("name") or DEFAULT
            self.only_default(name)
            start = bool(body.get("start"))
        else:
            name = validate_session_name(body.get("name", DEFAULT))
            start = body.get("start", True)
        with self.lock:
            if name in self.sessions:
                raise SimError(422, f"Session '{name}' already exists. Use PUT to update it.")
            if self.flavor.is_core and not start:
                # Core only remembers the config; the session stays removed (list answers []).
                self.core_pending_config = config
                self.touch()
                return None
            session = Session(name=name, config=config or {})
            self.sessions[name] = session
            self.touch()
            if start:
                self.boot(session)
            return self.session_json(session)

    def update(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        config = body.get("config")
        if not isinstance(config, dict):
            raise SimError(400, ["config must be an object"])
        problems = validate_config(config)
        if problems:
            raise SimError(400, problems)
        self.only_default(name)
        with self.lock:
            session = self.sessions.get(name)
            if session is None:
                raise SimError(404, "Session not found")
            was_running = session.status != "STOPPED"
            if self.flavor.is_core and was_running:
                self.halt(session, "STOPPED")
        if self.flavor.is_core and was_running:
            self._pause_after_stop()
        with self.lock:
            session = self.get(name)
            session.config = config
            self.touch()
            # WAHA restarts a running session to apply a new config.
            if was_running:
                self.boot(session)
            return self.session_json(session)

    def start(self, name: str) -> dict[str, Any]:
        self.only_default(name)
        with self.lock:
            session = self.sessions.get(name)
            if session is None:
                raise SimError(
                    404,
                    "Session not found"
                    if self.flavor.is_core
                    else f"Session '{name}' does not exist",
                )
            if self.flavor.is_core and session.status != "STOPPED":
                raise SimError(422, f"Session '{name}' is already started.")
            if session.status in ("STOPPED", "FAILED"):
                self.boot(session)
            return self.session_json(session)

    def start_upsert(self, body: dict[str, Any]) -> dict[str, Any]:
        """The older POST /api/sessions/start: create or update, then start."""
        name = body.get("name") or DEFAULT
        self.only_default(name)
        if not self.flavor.only_default:
            name = validate_session_name(name)
        config = body.get("config")
        if config is not None and not isinstance(config, dict):
            raise SimError(400, ["config must be an object"])
        with self.lock:
            session = self.sessions.get(name)
            if session is not None and session.status not in ("STOPPED", "FAILED"):
                raise SimError(422, f"Session '{name}' is already started.")
            if session is None:
                session = Session(name=name, config=config or self.core_pending_config or {})
                self.sessions[name] = session
            elif config is not None:
                session.config = config
            self.core_pending_config = None
            self.boot(session)
            return {"name": name, "status": session.status, "config": session.config}

    def stop(self, name: str) -> dict[str, Any] | None:
        self.only_default(name)
        with self.lock:
            session = self.sessions.get(name)
            if session is None:
                if self.flavor.is_core:
                    return None
                raise SimError(404, f"Session '{name}' does not exist")
            was_running = session.status != "STOPPED"
            self.halt(session, "STOPPED")
        if was_running:
            self._pause_after_stop()
        return self.info(name)

    def restart(self, name: str) -> dict[str, Any]:
        self.only_default(name)
        with self.lock:
            was_running = self._existing(name).status != "STOPPED"
        if was_running:
            self._pause_after_stop()
        with self.lock:
            session = self._existing(name)
            self.boot(session)
            return self.session_json(session)

    def logout(self, name: str) -> dict[str, Any]:
        self.only_default(name)
        with self.lock:
            session = self._existing(name)
            session.identity = None
            was_running = session.status != "STOPPED"
            self.touch()
            if self.flavor.is_core and not was_running:
                return self.session_json(session)
        self._pause_after_stop()
        with self.lock:
            session = self._existing(name)
            self.boot(session)
            return self.session_json(session)

    def _existing(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            if self.flavor.is_core:
                raise SimError(404, "Session not found")
            raise SimError(404, f"Session '{name}' does not exist")
        return session

    def delete(self, name: str) -> None:
        self.only_default(name)
        with self.lock:
            session = self.sessions.pop(name, None)
            if session is not None:
                was_running = session.status != "STOPPED"
                if was_running and self.flavor.is_core:
                    # Core stops the session first, and says so (recorded STOPPED delivery).
                    self.halt(session, "STOPPED")
                session.generation = next(self._generations)
                if self.flavor.is_core:
                    self.core_pending_config = None
                self.touch()
            else:
                was_running = False
        if was_running:
            self._pause_after_stop()

    def drop(self, name: str, status: str = "STOPPED", *, logout: bool = False) -> dict[str, Any]:
        if status not in ("STOPPED", "FAILED"):
            raise SimError(400, "status must be STOPPED or FAILED")
        with self.lock:
            session = self.get(name)
            if logout:
                session.identity = None
            self.halt(session, status)
            return session.to_json()

    def list_sessions(self) -> list[dict[str, Any]]:
        with self.lock:
            if self.flavor.is_core:
                return [
                    {"name": s.name, "status": s.status, "config": s.config, "me": s.me}
                    for s in self.sessions.values()
                ]
            return [self.session_json(session) for session in self.sessions.values()]

    def reset(self) -> None:
        with self.lock:
            for session in self.sessions.values():
                session.generation = next(self._generations)
            self.sessions.clear()
            self.core_pending_config = None
            self.scheduler.clear()
            self.webhooks.reset()
            self.knobs = self.initial_knobs.copy()
            self._fresh()
            self.touch()

    # -- lifecycle (the caller holds the lock; also used by the Evolution routes) --

    def boot(self, session: Session) -> None:
        """(Re)start a session: STARTING, then WORKING if a phone is linked, else a QR."""
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
                self.halt(session, "FAILED")
            else:
                self._new_qr(session, first=False)

    def halt(self, session: Session, status: str) -> None:
        """Stop a session in STOPPED or FAILED; pending timers for it become no-ops."""
        session.generation = next(self._generations)
        session.qr_token = None
        if session.status != status:
            self._set_status(session, status)

    def _set_status(self, session: Session, status: str) -> None:
        session.status = status
        session.statuses.append({"status": status, "timestamp": now_ms()})
        del session.statuses[:-10]
        self.touch()
        payload: dict[str, Any] = {"name": session.name, "status": status}
        if not self.flavor.is_core:
            payload["statuses"] = list(session.statuses)
        self._emit(session, "session.status", payload)

    def _emit(self, session: Session, event: str, payload: dict[str, Any]) -> str | None:
        if self.event_sink is not None:
            # Another protocol (Evolution) turns WAHA's events into its own.
            self.event_sink(self, session, event, payload)
            return None
        if self.flavor.is_core:
            # Core: no id, no timestamp, not signed, not retried (gateways-recorded/README).
            envelope = {
                "event": event,
                "session": session.name,
                "metadata": session.metadata,
                "me": session.me,
                "payload": payload,
                "engine": self.flavor.engine,
                "environment": self.flavor.environment,
            }
            return self.webhooks.emit(
                hooks=session.webhooks,
                event=event,
                session=session.name,
                envelope=envelope,
                style=CORE_STYLE,
            )
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
        session = self.wait_for(name, "SCAN_QR_CODE")
        with self.lock:
            if session.status != "SCAN_QR_CODE" or not session.qr_token:
                raise NotReady(session, "SCAN_QR_CODE")
            return self.phone_link(session)

    def pair(self, name: str, code: str, *, phone: str | None = None) -> str:
        """Link a phone by the code from a QR; returns PAIRED, EXPIRED or ALREADY_LINKED."""
        with self.lock:
            session = self.get(name)
            if session.status == "SCAN_QR_CODE" and code and code == session.qr_token:
                self._link(session, phone)
                return PAIRED
            if session.status == "WORKING":
                return ALREADY_LINKED
            return EXPIRED

    def _link(self, session: Session, phone: str | None) -> None:
        number = digits_of(phone or "") or new_phone()
        session.identity = {"id": f"{number}@c.us", "pushName": "Simulated Phone"}
        session.generation = next(self._generations)
        session.qr_token = None
        session.pairing_code = session.pairing_phone = None
        self._set_status(session, "WORKING")

    def request_code(self, name: str, phone: str) -> str:
        """A phone-number pairing code (WAHA request-code, Evolution connect?number=)."""
        number = digits_of(phone)
        if not number:
            raise SimError(400, ["phoneNumber must be a phone number such as 6281234567890"])
        with self.lock:
            session = self.get(name)
            letters = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))
            session.pairing_code, session.pairing_phone = letters, number
            return letters

    def pair_with_code(self, name: str, code: str) -> str:
        """The phone types the pairing code in; returns PAIRED, EXPIRED or ALREADY_LINKED."""
        wanted = "".join(ch for ch in code.upper() if ch.isalnum())
        with self.lock:
            session = self.get(name)
            if session.status == "WORKING":
                return ALREADY_LINKED
            if (
                session.status == "SCAN_QR_CODE"
                and session.pairing_code
                and secrets.compare_digest(wanted, session.pairing_code)
            ):
                self._link(session, session.pairing_phone)
                return PAIRED
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
        name = str(body.get("session") or DEFAULT)
        # WAHA checks the session (name, started, WORKING) before it reads the body.
        self.wait_for(name, "WORKING")
        chat_id, text = body.get("chatId"), body.get("text")
        problems = []
        if not isinstance(chat_id, str) or not chat_id.endswith("@c.us") or not digits_of(chat_id):
            problems.append("chatId must look like 6281234567890@c.us")
        if not isinstance(text, str):
            problems.append("text must be a string")
        if problems:
            raise SimError(400, problems if self.flavor.is_core else " and ".join(problems))
        with self.lock:
            session = self.require_working(name)
            if not self.number_exists(chat_id):
                raise SimError(400, "number not on WhatsApp")
            serialized, short_id, timestamp = self.record_outbound(session, chat_id, text)
            me = session.identity["id"] if session.identity else ""
        self.after_delivery()
        return self._send_reply(serialized, short_id, me, chat_id, text, timestamp)

    def after_delivery(self) -> None:
        """The message is with the contact; the reply may still be late or a 500 (knobs)."""
        knobs = self.knobs
        if knobs.reply_delay_ms:
            time.sleep(knobs.reply_delay_ms / 1000)
        if knobs.fail_after_send_rate and random.random() < knobs.fail_after_send_rate:
            raise SimError(500, "Simulated failure after the message was delivered")

    def record_outbound(self, session: Session, chat_id: str, text: str) -> tuple[str, str, int]:
        """Keep a sent message (the contact "receives" it) and schedule its acks."""
        serialized, short_id, timestamp = self.keep_message(
            session, from_me=True, chat=chat_id, body=text
        )
        self.touch()
        # Delays are offsets from the send, so [0.2, 0.5, 1.0] means sent, delivered, read.
        for level, delay in enumerate(self.knobs.ack_delays[:4], start=1):
            self.scheduler.call_later(delay, self._ack, session.name, serialized, chat_id, level)
        return serialized, short_id, timestamp

    @staticmethod
    def keep_message(
        session: Session, *, from_me: bool, chat: str, body: str, push_name: str = ""
    ) -> tuple[str, str, int]:
        """Keep a message the session saw, for the contacts page and the chat history:
        (WAHA's serialized id, the short id acks carry, epoch seconds)."""
        short_id = new_message_id()
        serialized = f"{'true' if from_me else 'false'}_{chat}_{short_id}"
        timestamp = int(time.time())
        message = Message(serialized, from_me, chat, body, timestamp, push_name=push_name)
        session.messages.append(message)
        return serialized, short_id, timestamp

    def history(self, name: str, chat_id: str, limit: int) -> list[dict[str, Any]]:
        """WAHA's chat messages, newest first (what reconciliation reads after a lost reply)."""
        self.wait_for(name, "WORKING")
        wanted = digits_of(chat_id)
        with self.lock:
            session = self.running(name)
            me = session.identity["id"] if session.identity else None
            found = [m for m in session.messages if digits_of(m.chat) == wanted]
            found = found[::-1][: max(0, limit)]
            return [
                {
                    "id": m.serialized_id,
                    "timestamp": m.timestamp,
                    "from": me if m.from_me else m.chat,
                    "fromMe": m.from_me,
                    "to": m.chat if m.from_me else me,
                    "body": m.body,
                    "hasMedia": False,
                    "ack": m.ack,
                    "ackName": ACK_NAMES.get(m.ack, "PENDING"),
                }
                for m in found
            ]

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
            self.touch()
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
            serialized, _, timestamp = self.keep_message(
                session, from_me=False, chat=sender, body=text, push_name=push_name
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
            self.touch()
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
                data["state"] = session.status
                data["paired"] = session.identity is not None
                data["qr"] = {
                    "value": self.phone_link(session) if session.qr_token else None,
                    "count": session.qr_count,
                    "expires_at": session.qr_expires_at if session.qr_token else None,
                }
                data["statuses"] = list(session.statuses)
                sessions.append(data)
            return {
                "flavor": self.flavor.name,
                "sessions": sessions,
                "knobs": self.knobs.as_dict(),
            }


WEBHOOK_EVENTS = (
    "session.status, message, message.reaction, message.any, message.ack, message.waiting, "
    "message.revoked, state.change, group.join, group.leave, presence.update, poll.vote, "
    "poll.vote.failed, chat.archive, call.received, call.accepted, call.rejected, label.upsert, "
    "label.deleted, label.chat.added, label.chat.deleted"
)
RETRY_POLICIES = ("linear", "exponential", "constant")


def validate_config(config: dict[str, Any]) -> list[str]:
    """WAHA's class-validator messages for a session config (gateways-recorded 17_-19_)."""
    problems: list[str] = []
    hooks = config.get("webhooks")
    if hooks is None:
        return problems
    if not isinstance(hooks, list):
        return ["config.webhooks must be an array"]
    allowed = set(WEBHOOK_EVENTS.split(", ")) | {"*"}
    for index, hook in enumerate(hooks):
        where = f"config.webhooks.{index}"
        if not isinstance(hook, dict):
            problems.append(f"{where} must be an object")
            continue
        url = hook.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{where}.url must be a URL address")
        events = hook.get("events")
        if events is not None and (
            not isinstance(events, list) or any(event not in allowed for event in events)
        ):
            problems.append(
                f"{where}.each value in events must be one of the following values: "
                + WEBHOOK_EVENTS
            )
        retries = hook.get("retries")
        if isinstance(retries, dict):
            for number in ("attempts", "delaySeconds"):
                value = retries.get(number)
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    problems.append(
                        f"{where}.retries.{number} must be a number conforming to the "
                        "specified constraints"
                    )
            policy = retries.get("policy")
            if policy is not None and policy not in RETRY_POLICIES:
                problems.append(
                    f"{where}.retries.policy must be one of the following values: "
                    + ", ".join(RETRY_POLICIES)
                )
    return problems
