"""Evolution API 2.3.6 on top of the simulated sessions: its routes, answers and webhooks."""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from gateway_simulator.core import EVOLUTION_STYLE, Simulator
from gateway_simulator.routing import Request, Response, render_png
from gateway_simulator.state import Session, SimError, digits_of

Handler = Callable[["EvolutionApi", Request], Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
NAME = r"(?P<name>[^/]+)"
API_PREFIXES = ("/instance/", "/message/", "/chat/", "/webhook/", "/verify-creds")
EVENTS = (
    "APPLICATION_STARTUP,QRCODE_UPDATED,MESSAGES_SET,MESSAGES_UPSERT,MESSAGES_EDITED,"
    "MESSAGES_UPDATE,MESSAGES_DELETE,SEND_MESSAGE,SEND_MESSAGE_UPDATE,CONTACTS_SET,"
    "CONTACTS_UPSERT,CONTACTS_UPDATE,PRESENCE_UPDATE,CHATS_SET,CHATS_UPSERT,CHATS_UPDATE,"
    "CHATS_DELETE,GROUPS_UPSERT,GROUP_UPDATE,GROUP_PARTICIPANTS_UPDATE,CONNECTION_UPDATE,"
    "LABELS_EDIT,LABELS_ASSOCIATION,CALL,TYPEBOT_START,TYPEBOT_CHANGE_STATUS,REMOVE_INSTANCE,"
    "LOGOUT_INSTANCE,INSTANCE_CREATE,INSTANCE_DELETE,STATUS_INSTANCE"
)
ACK_STATUS = {1: "SERVER_ACK", 2: "DELIVERY_ACK", 3: "READ", 4: "PLAYED"}
# connect() on a closed instance waits for Baileys before answering (2 s in Evolution).
CONNECT_WAIT_MAX = 2.0


class EvoError(SimError):
    """An error in Evolution's shape: {"status", "error", "response": {"message"}}."""

    def __init__(self, status: int, message: Any) -> None:
        super().__init__(status, message)
        self.body = {
            "status": status,
            "error": HTTPStatus(status).phrase,
            "response": {"message": message},
        }


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn))
        return fn

    return register


def is_api_path(path: str) -> bool:
    return path == "/" or path.startswith(API_PREFIXES)


def dispatch(api: EvolutionApi, req: Request, headers: Any) -> Response:
    for method, pattern, fn in ROUTES:
        match = pattern.match(req.path)
        if match is not None and method == req.method:
            req.params = {key: unquote(value) for key, value in match.groupdict().items()}
            return fn(api, req)
    raise EvoError(404, f"Cannot {req.method} {req.path}")


def state_of(session: Session) -> str:
    if session.status == "WORKING":
        return "open"
    if session.status in ("STARTING", "SCAN_QR_CODE"):
        return "connecting"
    return "close"


def jid(chat: str) -> str:
    """WAHA's 628...@c.us as Evolution writes it (628...@s.whatsapp.net); @lid stays."""
    return chat if chat.endswith("@lid") else f"{digits_of(chat)}@s.whatsapp.net"


def short_id(serialized: str) -> str:
    return serialized.rsplit("_", 1)[-1]


def iso_now() -> str:
    now = datetime.now(tz=UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class EvolutionApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # -- auth --

    def _key(self, req: Request) -> str:
        return str(req.headers.get("apikey") or "")

    def _check_key(self, req: Request, session: Session | None = None) -> None:
        knobs = self.sim.knobs
        if knobs.reject_key:
            raise EvoError(401, "Unauthorized")
        if knobs.key_not_enforced:
            return
        given = self._key(req).encode()
        if secrets.compare_digest(given, self.sim.api_key.encode()):
            return
        # An instance's own token also opens that instance (gateways-recorded b07).
        if (
            session is not None
            and session.token
            and secrets.compare_digest(given, session.token.encode())
        ):
            return
        raise EvoError(401, "Unauthorized")

    def _instance(self, req: Request) -> Session:
        """The named instance: unknown is 404 even with a wrong key (a07), then the key."""
        name = req.params["name"]
        session = self.sim.sessions.get(name)
        if session is None:
            raise EvoError(404, [f'The "{name}" instance does not exist'])
        self._check_key(req, session)
        return session

    # -- server --

    @route("GET", "/")
    def root(self, req: Request) -> Response:
        return Response.json(
            200,
            {
                "status": 200,
                "message": "Welcome to the Evolution API, it is working!",
                "version": self.sim.flavor.version["version"],
                "clientName": "evolution_exchange",
                "manager": f"{self.sim.public_url}/manager",
                "documentation": "https://doc.evolution-api.com",
                "whatsappWebVersion": "2.3000.1027934701",
            },
        )

    @route("POST", "/verify-creds")
    def verify(self, req: Request) -> Response:
        self._check_key(req)
        return Response.json(200, {"status": 200, "message": "Credentials are valid"})

    # -- instances --

    @route("POST", "/instance/create")
    def create(self, req: Request) -> Response:
        self._check_key(req)
        body = req.json()
        name = body.get("instanceName")
        if not isinstance(name, str) or not name:
            raise EvoError(400, [['instance requires property "instanceName"']])
        hook = body.get("webhook") if isinstance(body.get("webhook"), dict) else None
        if hook is not None:
            self._validate_events(hook, "webhook")
        sim = self.sim
        with sim.lock:
            if name in sim.sessions:
                raise EvoError(403, [f'This name "{name}" is already in use.'])
            session = Session(name=name, config={})
            session.token = str(body.get("token") or str(uuid.uuid4()).upper())
            session.instance_id = str(uuid.uuid4())
            if hook is not None and hook.get("url"):
                session.config = {"webhook": self._webhook(session, hook, None)}
            sim.sessions[name] = session
            sim.touch()
            qrcode = bool(body.get("qrcode"))
            if qrcode:
                sim.boot(session)
        # Evolution sleeps while Baileys connects; the webhooks arrive before this answer.
        if sim.knobs.create_delay:
            time.sleep(sim.knobs.create_delay)
        with sim.lock:
            reply: dict[str, Any] = {
                "instance": {
                    "instanceName": name,
                    "instanceId": session.instance_id,
                    "integration": body.get("integration") or "WHATSAPP-BAILEYS",
                    "webhookWaBusiness": None,
                    "accessTokenWaBusiness": "",
                    "status": state_of(session),
                },
                "hash": session.token,
                "webhook": self._webhook_summary(session),
                "websocket": {},
                "rabbitmq": {},
                "nats": {},
                "sqs": {},
                "settings": {
                    "rejectCall": False,
                    "msgCall": "",
                    "groupsIgnore": False,
                    "alwaysOnline": False,
                    "readMessages": False,
                    "readStatus": False,
                    "syncFullHistory": False,
                    "wavoipToken": "",
                },
            }
            if qrcode:
                reply["qrcode"] = self._qr(session)
        return Response.json(201, reply)

    @route("GET", "/instance/fetchInstances")
    def fetch(self, req: Request) -> Response:
        self._check_key(req)
        name = req.query.get("instanceName")
        with self.sim.lock:
            sessions = list(self.sim.sessions.values())
            if name:
                sessions = [s for s in sessions if s.name == name]
                if not sessions:
                    raise EvoError(404, [f'Instance "{name}" not found'])
            return Response.json(200, [self._row(s) for s in sessions])

    @route("GET", f"/instance/connectionState/{NAME}")
    def connection_state(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            return Response.json(200, self._state(session))

    @route("GET", f"/instance/connect/{NAME}")
    def connect(self, req: Request) -> Response:
        number = req.query.get("number")
        with self.sim.lock:
            session = self._instance(req)
            state = state_of(session)
            if number:
                self.sim.request_code(session.name, number)
            if state == "open":
                return Response.json(200, self._state(session))
            if state == "close":
                self.sim.boot(session)
        if state == "close":
            # Answer with the first QR when it comes quickly, as Evolution's 2 s wait does.
            deadline = time.monotonic() + min(CONNECT_WAIT_MAX, self.sim.knobs.start_delay + 0.2)
            while time.monotonic() < deadline and session.qr_token is None:
                time.sleep(0.02)
        with self.sim.lock:
            return Response.json(200, self._qr(session))

    @route("POST", f"/instance/restart/{NAME}")
    def restart(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            if state_of(session) == "close":
                # Recorded (b23, c03): Evolution's own error object, stringified, and no restart.
                return Response.json(200, {"error": True, "message": "[object Object]"})
            self.sim.boot(session)
            return Response.json(200, self._qr(session))

    @route("DELETE", f"/instance/logout/{NAME}")
    def logout(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            if state_of(session) != "open":
                raise EvoError(400, [f'The "{session.name}" instance is not connected'])
            self._logout(session)
            return Response.json(
                200,
                {
                    "status": "SUCCESS",
                    "error": False,
                    "response": {"message": "Instance logged out"},
                },
            )

    def _logout(self, session: Session) -> None:
        session.identity = None
        session.stop_reason = 401  # Baileys' loggedOut
        self.sim.halt(session, "STOPPED")
        session.stop_reason = 200

    @route("DELETE", f"/instance/delete/{NAME}")
    def delete(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            if state_of(session) == "open":
                self._logout(session)
            self.sim.delete(session.name)
            return Response.json(
                200,
                {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}},
            )

    # -- messages --

    @route("POST", f"/message/sendText/{NAME}")
    def send_text(self, req: Request) -> Response:
        sim = self.sim
        with sim.lock:
            session = self._instance(req)
        body = req.json()
        missing = [
            f'instance requires property "{field}"'
            for field in ("number", "text")
            if not isinstance(body.get(field), str) or not body.get(field)
        ]
        if missing:
            raise EvoError(400, [missing])
        number = digits_of(body["number"])
        with sim.lock:
            if state_of(session) != "open":
                # Recorded (b10, c05): a raw internal error, and never a 4xx.
                message = (
                    "Connection Closed"
                    if session.statuses
                    else "Cannot read properties of undefined (reading 'onWhatsApp')"
                )
                raise EvoError(500, message)
            if not number or not sim.number_exists(number):
                raise EvoError(
                    400,
                    [{"jid": f"{number}@s.whatsapp.net", "exists": False, "number": number}],
                )
            chat = f"{number}@c.us"
            _serialized, short, timestamp = sim.record_outbound(session, chat, body["text"])
        try:
            sim.after_delivery()
        except SimError as exc:
            raise EvoError(exc.status, exc.message) from None
        return Response.json(
            201,
            {
                "key": {"remoteJid": jid(chat), "fromMe": True, "id": short},
                "pushName": "",
                "status": "PENDING",
                "message": {"conversation": body["text"]},
                "contextInfo": None,
                "messageType": "conversation",
                "messageTimestamp": timestamp,
                "instanceId": session.instance_id,
                "source": "unknown",
            },
        )

    @route("POST", f"/chat/whatsappNumbers/{NAME}")
    def numbers(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            if state_of(session) != "open":
                raise EvoError(500, "Connection Closed")
        numbers = req.json().get("numbers")
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            raise EvoError(400, [['instance requires property "numbers"']])
        return Response.json(
            200,
            [
                {
                    "jid": f"{digits_of(n)}@s.whatsapp.net",
                    "exists": self.sim.number_exists(n),
                    "number": n,
                }
                for n in numbers
            ],
        )

    @route("POST", f"/chat/findMessages/{NAME}")
    def find_messages(self, req: Request) -> Response:
        """The instance's stored messages, newest first, in Evolution's paged envelope."""
        with self.sim.lock:
            session = self._instance(req)
            body = req.json()
            where = body.get("where") if isinstance(body.get("where"), dict) else {}
            key = where.get("key") if isinstance(where.get("key"), dict) else {}
            records = [self._record(session, m) for m in reversed(session.messages)]
        if key.get("remoteJid"):
            wanted = digits_of(str(key["remoteJid"]))
            records = [r for r in records if digits_of(r["key"]["remoteJid"]) == wanted]
        if key.get("id"):
            records = [r for r in records if r["key"]["id"] == key["id"]]
        if isinstance(key.get("fromMe"), bool) and key["fromMe"]:
            records = [r for r in records if r["key"]["fromMe"]]
        offset = _positive(body.get("offset"), 50)
        page = _positive(body.get("page"), 1)
        total = len(records)
        chunk = records[(page - 1) * offset : page * offset]
        return Response.json(
            200,
            {
                "messages": {
                    "total": total,
                    "pages": -(-total // offset),
                    "currentPage": page,
                    "records": chunk,
                }
            },
        )

    # -- webhooks --

    @route("POST", f"/webhook/set/{NAME}")
    def webhook_set(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
        hook = req.json().get("webhook")
        if not isinstance(hook, dict):
            raise EvoError(400, [['instance requires property "webhook"']])
        self._validate_events(hook, "webhook")
        with self.sim.lock:
            previous = (session.config or {}).get("webhook")
            session.config = {
                **(session.config or {}),
                "webhook": self._webhook(session, hook, previous),
            }
            self.sim.touch()
            return Response.json(201, session.config["webhook"])

    @route("GET", f"/webhook/find/{NAME}")
    def webhook_find(self, req: Request) -> Response:
        with self.sim.lock:
            session = self._instance(req)
            return Response.json(200, (session.config or {}).get("webhook"))

    # -- shapes --

    def _validate_events(self, hook: dict[str, Any], where: str) -> None:
        events = hook.get("events") or []
        allowed = set(EVENTS.split(","))
        problems = [
            f"{where}.events[{index}] is not one of enum values: {EVENTS}"
            for index, event in enumerate(events if isinstance(events, list) else [events])
            if event not in allowed
        ]
        if problems:
            raise EvoError(400, [problems])

    def _webhook(
        self, session: Session, hook: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        now = iso_now()
        return {
            "id": (previous or {}).get("id") or "cm" + secrets.token_hex(12),
            "url": str(hook.get("url") or ""),
            "headers": dict(hook.get("headers") or {}),
            "enabled": bool(hook.get("enabled", True)),
            "events": list(hook.get("events") or []),
            "webhookByEvents": bool(hook.get("byEvents", False)),
            "webhookBase64": bool(hook.get("base64", False)),
            "createdAt": (previous or {}).get("createdAt") or now,
            "updatedAt": now,
            "instanceId": session.instance_id,
        }

    def _webhook_summary(self, session: Session) -> dict[str, Any]:
        hook = (session.config or {}).get("webhook")
        if not hook:
            return {}
        return {
            "webhookUrl": hook["url"],
            "webhookHeaders": hook["headers"],
            "webhookByEvents": hook["webhookByEvents"],
            "webhookBase64": hook["webhookBase64"],
        }

    def _state(self, session: Session) -> dict[str, Any]:
        return {"instance": {"instanceName": session.name, "state": state_of(session)}}

    def _qr(self, session: Session) -> dict[str, Any]:
        return qr_of(self.sim, session)

    def _row(self, session: Session) -> dict[str, Any]:
        me = session.identity if session.status == "WORKING" else None
        created = datetime.fromtimestamp(session.created_at, tz=UTC).isoformat()
        return {
            "id": session.instance_id,
            "name": session.name,
            "connectionStatus": state_of(session),
            "ownerJid": jid(me["id"]) if me else None,
            "profileName": me.get("pushName") if me else None,
            "profilePicUrl": None,
            "integration": "WHATSAPP-BAILEYS",
            "number": None,
            "businessId": None,
            "token": session.token,
            "clientName": "evolution_exchange",
            "disconnectionReasonCode": None,
            "disconnectionObject": None,
            "disconnectionAt": None,
            "createdAt": created.replace("+00:00", "Z"),
            "updatedAt": created.replace("+00:00", "Z"),
            "_count": {
                "Message": len(session.messages),
                "Contact": 0,
                "Chat": len({m.chat for m in session.messages}),
            },
        }

    def _record(self, session: Session, message: Any) -> dict[str, Any]:
        return {
            "id": "cm" + short_id(message.serialized_id).lower(),
            "key": {
                "id": short_id(message.serialized_id),
                "fromMe": message.from_me,
                "remoteJid": jid(message.chat),
            },
            "pushName": message.push_name or ("Você" if message.from_me else ""),
            "messageType": "conversation",
            "message": {"conversation": message.body},
            "messageTimestamp": message.timestamp,
            "instanceId": session.instance_id,
            "source": "web" if message.from_me else "android",
            "contextInfo": None,
            "MessageUpdate": (
                [{"status": ACK_STATUS[level]} for level in range(1, message.ack + 1)]
                if message.from_me
                else []
            ),
        }


def qr_of(sim: Simulator, session: Session) -> dict[str, Any]:
    """Evolution's qrcode object; before the first QR it is only {"count": 0} (b05)."""
    if not session.qr_token:
        return {"count": session.qr_count if session.status == "SCAN_QR_CODE" else 0}
    link = sim.phone_link(session)
    png = render_png(link)
    return {
        "pairingCode": session.pairing_code,
        "code": link,
        "base64": "data:image/png;base64," + base64.b64encode(png).decode() if png else None,
        "count": session.qr_count,
    }


def emit(sim: Simulator, session: Session, event: str, payload: dict[str, Any]) -> None:
    """Turn one WAHA-style event of the core into Evolution's webhook delivery."""
    hook = (session.config or {}).get("webhook")
    if not hook or not hook.get("enabled") or not hook.get("url"):
        return
    translated = _translate(sim, session, event, payload)
    if translated is None:
        return
    name, data = translated
    me = session.identity["id"] if session.identity else None
    envelope = {
        "event": name,
        "instance": session.name,
        "data": data,
        "destination": hook["url"],
        "date_time": iso_now(),
        "sender": jid(me) if me else None,
        "server_url": sim.public_url,
        "apikey": session.token,
    }
    target = {
        "url": hook["url"],
        "events": hook.get("events") or [],
        "customHeaders": [{"name": k, "value": v} for k, v in hook.get("headers", {}).items()],
    }
    sim.webhooks.emit(
        hooks=[target], event=name, session=session.name, envelope=envelope, style=EVOLUTION_STYLE
    )


def _translate(
    sim: Simulator, session: Session, event: str, payload: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    if event == "session.status":
        status = payload["status"]
        if status == "SCAN_QR_CODE":
            qr = qr_of(sim, session)
            return "qrcode.updated", {
                "qrcode": {
                    "instance": session.name,
                    "pairingCode": qr.get("pairingCode"),
                    "code": qr.get("code"),
                    "base64": qr.get("base64"),
                }
            }
        data: dict[str, Any] = {"instance": session.name}
        if status == "WORKING" and session.identity:
            data.update(
                wuid=jid(session.identity["id"]),
                profileName=session.identity.get("pushName"),
                profilePictureUrl=None,
                state="open",
                statusReason=200,
            )
        elif status == "STARTING":
            data.update(state="connecting", statusReason=200)
        elif status == "FAILED":
            data.update(state="refused", statusReason=428)
        else:
            data.update(state="close", statusReason=session.stop_reason)
        return "connection.update", data
    if event == "message":
        sender = str(payload["from"])
        key: dict[str, Any] = {
            "remoteJid": jid(sender),
            "fromMe": False,
            "id": short_id(payload["id"]),
        }
        if sender.endswith("@lid"):
            lid = digits_of(sender)
            for number, known in session.lids.items():
                if known == lid:
                    key["senderPn"] = f"{number}@s.whatsapp.net"
        push = (payload.get("_data") or {}).get("pushName")
        return "messages.upsert", {
            "key": key,
            "pushName": push,
            "status": "DELIVERY_ACK",
            "message": {"conversation": payload.get("body") or ""},
            "messageType": "conversation",
            "messageTimestamp": payload.get("timestamp"),
            "instanceId": session.instance_id,
            "source": "android",
        }
    if event == "message.ack":
        status = ACK_STATUS.get(int(payload.get("ack") or 0))
        if status is None:
            return None
        return "messages.update", {
            "messageId": "cm" + short_id(payload["id"]).lower(),
            "keyId": short_id(payload["id"]),
            "remoteJid": jid(str(payload.get("to") or "")),
            "fromMe": True,
            "participant": jid(str(payload.get("to") or "")),
            "status": status,
            "instanceId": session.instance_id,
        }
    return None


def _positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
