"""Adapter for WAHA (WhatsApp HTTP API) gateways: sessions, QR codes, sending, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from whatsapp.gateways.base import (
    CREATE_TIMEOUT,
    Ack,
    Capabilities,
    Event,
    GatewayError,
    Health,
    HistoryMessage,
    HttpGateway,
    InboundMessage,
    QrCode,
    SentMessage,
    SessionStatus,
    StatusChange,
    WebhookParseError,
    as_dict,
    header_value,
    history_since,
    is_direct_chat,
    load_json_body,
    phone_digits,
    phone_from_jid,
    refined_time,
    require_str,
    sender_identity,
    short_message_id,
    to_datetime,
    validate_session_name,
)

STATUS_MAP = {
    "STOPPED": "stopped",
    "STARTING": "starting",
    "SCAN_QR_CODE": "scan_qr",
    "PASSKEY_REQUIRED": "action_required",
    "PASSKEY_CONFIRMATION_REQUIRED": "action_required",
    "WORKING": "connected",
    "FAILED": "failed",
}
ACK_MAP = {
    "ERROR": "failed",
    "SERVER": "sent",
    "DEVICE": "delivered",
    "READ": "read",
    "PLAYED": "read",
}
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
WEBHOOK_EVENTS = ["message", "message.ack", "session.status"]
MAX_WEBHOOK_AGE_SECONDS = 300
# WAHA Core serves exactly one session, and it has this name.
CORE_SESSION = "default"
_CORE_LIMIT = "only 'default' session"
_START_IT_FIRST = "start it first"


def _text(data: Any) -> str:
    message = as_dict(data).get("message")
    return message if isinstance(message, str) else ""


def is_core_limit(data: Any) -> bool:
    """WAHA Core's 422 for any session not named 'default' (create, QR, send, restart...)."""
    return _CORE_LIMIT in _text(data)


def map_status(raw: object) -> str:
    # An unknown (newer) status is treated as still starting: it neither claims success nor
    # makes the device look broken, and raw_status keeps the truth for the operator.
    return STATUS_MAP.get(raw, "starting") if isinstance(raw, str) else "starting"


def message_id_from_reply(data: Any) -> str | None:
    """The short id from any of the send-reply shapes the WAHA engines produce."""
    if not isinstance(data, dict):
        return None
    candidates: list[Any] = []
    raw_id = data.get("id")
    if isinstance(raw_id, dict):
        candidates += [raw_id.get("_serialized"), raw_id.get("id")]
    else:
        candidates.append(raw_id)
    candidates.append(as_dict(data.get("key")).get("id"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return short_message_id(candidate)
    return None


def _quoted_id(payload: dict[str, Any], extra: dict[str, Any]) -> str | None:
    """The quoted message's id: `replyTo.id` (newer WAHA) or WEBJS's `_data.quotedStanzaID`."""
    for candidate in (as_dict(payload.get("replyTo")).get("id"), extra.get("quotedStanzaID")):
        if isinstance(candidate, str) and candidate:
            return short_message_id(candidate)
    return None


class WahaGateway(HttpGateway):
    provider = "waha"
    auth_failure_statuses = (401, 403)

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.endpoint.api_key.reveal()}

    # --- server ----------------------------------------------------------------------------

    def health(self) -> Health:
        # /health answers 422 on older free images, so liveness comes from /ping instead.
        return self._health_probe(("GET", "/ping"), ("GET", "/api/server/version"))

    def capabilities(self) -> Capabilities:
        reply = self.last_key_check  # the health check just read the same route
        if reply is None or reply.status != 200 or not isinstance(reply.data, dict):
            reply = self._request("GET", "/api/server/version")
        data = as_dict(reply.data)
        version, tier, engine = (data.get(k) for k in ("version", "tier", "engine"))
        tier = tier.upper() if isinstance(tier, str) else ""
        # Only Plus signs, retries and serves many sessions. A WAHA that does not say its tier
        # predates tiers; it is treated as the capable one, as before tiers were known.
        core = tier == "CORE"
        return Capabilities(
            provider=self.provider,
            version=version[:60] if isinstance(version, str) else "",
            tier=tier[:10],
            engine=engine[:30] if isinstance(engine, str) else "",
            key_enforced=self._key_enforced("GET", "/api/server/version", "X-Api-Key"),
            signs_webhooks=not core,
            multi_session=not core,
        )

    def _core_limit_error(self) -> GatewayError:
        return GatewayError(
            f"{self.label} is WAHA Core, which serves one WhatsApp number (a single session "
            "named 'default'). To pair more numbers on one endpoint, run WAHA Plus, or assign "
            "another endpoint.",
            permanent=True,
            status=422,
            code="waha_core_single_session",
        )

    def _status_error(self, status: int, data: Any, retry_after: str | None) -> GatewayError:
        if status == 422 and is_core_limit(data):
            return self._core_limit_error()
        return super()._status_error(status, data, retry_after)

    def _not_ready(self, name: str, raw_status: object = None) -> GatewayError:
        state = f" (it is {raw_status})" if isinstance(raw_status, str) and raw_status else ""
        return GatewayError(
            f"{self.label}: the session '{name}' is not running{state}; reconnect the device "
            "to start it",
            permanent=True,
            status=404 if raw_status is None else 422,
            code="session_not_ready",
        )

    def _missing(self, name: str, data: dict[str, Any]) -> GatewayError:
        """WAHA's 404 on a session's route (QR, send, pairing code)."""
        # "Please start it first": the session exists but is STOPPED (or is gone; a restart
        # recreates it either way). It is not something asking again can fix.
        if _START_IT_FIRST in _text(data).lower():
            return self._not_ready(name)
        return self._no_session(name)

    # --- sessions --------------------------------------------------------------------------

    def session_create(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> SessionStatus:
        validate_session_name(name)
        webhook = self._webhook(webhook_url, webhook_secret, webhook_retries)
        payload = {
            "name": name,
            "start": True,  # older images default to not starting; always say it
            "config": {"metadata": dict(metadata), "webhooks": [webhook]},
        }
        reply = self._request(
            "POST", "/api/sessions", json=payload, expected=(422,), timeout=CREATE_TIMEOUT
        )
        if reply.status == 422:
            if is_core_limit(reply.data):
                raise self._core_limit_error()
            detail = self.safe_detail(reply.data)
            # 422 is also WAHA's generic validation status; only a duplicate says "exists".
            if detail and "exist" not in detail.lower():
                raise GatewayError(
                    f"{self.label} refused the session settings: {detail}",
                    permanent=True,
                    status=422,
                    code="invalid_request",
                )
            if name == CORE_SESSION:
                # A fresh WAHA Core already has 'default' (STOPPED): configure it and start it.
                self.session_configure(
                    name=name,
                    webhook_url=webhook_url,
                    webhook_secret=webhook_secret,
                    webhook_retries=webhook_retries,
                    metadata=metadata,
                )
                return self._start(name)
            raise GatewayError(
                f"{self.label} already has a session named '{name}'",
                permanent=True,
                status=422,
                code="session_exists",
            )
        if not isinstance(reply.data, dict):
            return SessionStatus(name=name, status="starting")
        return self._session_from(reply.data, name)

    def session_configure(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> None:
        payload = {
            "name": validate_session_name(name),
            "config": {
                "metadata": dict(metadata),
                "webhooks": [self._webhook(webhook_url, webhook_secret, webhook_retries)],
            },
        }
        self._session_call("PUT", f"/api/sessions/{name}", name, json=payload)

    def _start(self, name: str) -> SessionStatus:
        # 422 here is "already started" (WAHA restarts a running session when it is updated).
        reply = self._request("POST", f"/api/sessions/{name}/start", expected=(422,))
        if reply.status != 422 and isinstance(reply.data, dict):
            return self._session_from(reply.data, name)
        return SessionStatus(name=name, status="starting")

    @staticmethod
    def _webhook(url: str, secret: str, retries: int) -> dict[str, Any]:
        return {
            "url": url,
            "events": list(WEBHOOK_EVENTS),
            "hmac": {"key": secret},
            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": retries},
        }

    def session_status(self, name: str) -> SessionStatus:
        reply = self._session_call("GET", f"/api/sessions/{validate_session_name(name)}", name)
        if not isinstance(reply.data, dict):
            raise self._unreadable("session status", status=reply.status)
        return self._session_from(reply.data, name)

    def session_qr(self, name: str) -> QrCode:
        reply = self._request(
            "GET",
            f"/api/{validate_session_name(name)}/auth/qr",
            params={"format": "raw"},
            expected=(404, 422),
        )
        data = as_dict(reply.data)
        if reply.status == 404:
            raise self._missing(name, data)
        if reply.status == 422 and is_core_limit(data):
            raise self._core_limit_error()
        if reply.status == 422:
            raw_status = data.get("status")
            if raw_status == "WORKING":
                raise self._already_connected(
                    name, status=422, nothing="there is no QR code to scan"
                )
            if isinstance(raw_status, str) and raw_status not in ("STARTING", "SCAN_QR_CODE"):
                raise self._not_ready(name, raw_status)
        value = data.get("value")
        image = data.get("data")
        if reply.status == 422 or not (
            (isinstance(value, str) and value) or isinstance(image, str)
        ):
            raise self._qr_not_ready(name, status=reply.status)
        if isinstance(value, str) and value:
            return QrCode(value=value)
        mimetype = data.get("mimetype")
        return QrCode(
            value=None,
            image_base64=image,
            mimetype=mimetype if isinstance(mimetype, str) and mimetype else None,
        )

    def session_restart(self, name: str) -> None:
        self._session_call("POST", f"/api/sessions/{validate_session_name(name)}/restart", name)

    def session_logout(self, name: str) -> None:
        self._session_call("POST", f"/api/sessions/{validate_session_name(name)}/logout", name)

    def session_delete(self, name: str) -> None:
        # Already gone is what the caller wanted. On WAHA Core a session not named 'default'
        # cannot exist at all (422), so it is gone too.
        reply = self._request(
            "DELETE",
            f"/api/sessions/{validate_session_name(name)}",
            expected=(404, 422),
        )
        if reply.status == 422 and not is_core_limit(reply.data):
            raise self._status_error(422, reply.data, None)

    @staticmethod
    def _session_from(data: dict[str, Any], name: str) -> SessionStatus:
        raw = data.get("status")
        me = as_dict(data.get("me"))
        push_name = me.get("pushName")
        return SessionStatus(
            name=data["name"] if isinstance(data.get("name"), str) else name,
            status=map_status(raw),
            phone=phone_from_jid(me.get("id")),
            push_name=push_name if isinstance(push_name, str) and push_name else None,
            raw_status=raw if isinstance(raw, str) else "",
        )

    # --- messages --------------------------------------------------------------------------

    def send_text(
        self, *, session: str, phone: str, text: str, timeout: float | None = None
    ) -> SentMessage:
        payload = {
            "session": validate_session_name(session),
            "chatId": f"{phone_digits(phone)}@c.us",
            "text": text,
        }
        reply = self._request(
            "POST", "/api/sendText", json=payload, timeout=timeout, expected=(404, 422)
        )
        data = as_dict(reply.data)
        if reply.status == 404:
            raise self._missing(session, data)
        if reply.status == 422 and is_core_limit(data):
            raise self._core_limit_error()
        if reply.status == 422:
            # WAHA checks the session's status before the body, so this is the status answer.
            raw_status = data.get("status")
            state = f" (it is {raw_status})" if isinstance(raw_status, str) else ""
            raise GatewayError(
                f"{self.label} cannot send from '{session}': the session is not connected{state}",
                permanent=True,
                status=422,
                code="session_not_ready",
            )
        # An empty 201 has been seen in the wild: the message went out, its id is unknown.
        return SentMessage(message_id=message_id_from_reply(reply.data))

    # --- webhooks --------------------------------------------------------------------------

    def webhook_signature_present(self, headers: Mapping[str, str]) -> bool:
        return header_value(headers, "x-webhook-hmac") is not None

    def verify_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None
    ) -> bool:
        try:
            if not secret:
                return False
            signature = header_value(headers, "x-webhook-hmac")
            stamp = header_value(headers, "x-webhook-timestamp")
            if not signature or not stamp:
                return False
            # The timestamp header is not covered by the HMAC; it narrows the replay window and
            # event-id dedupe does the rest.
            sent_at = int(str(stamp).strip()) / 1000
            current = time.time() if now is None else now
            if abs(current - sent_at) > MAX_WEBHOOK_AGE_SECONDS:
                return False
            expected = hmac.new(secret.encode(), bytes(body), hashlib.sha512).hexdigest()
            return hmac.compare_digest(expected.encode(), str(signature).strip().lower().encode())
        except Exception:  # any malformed header is simply "not authentic"
            return False

    def parse_webhook(self, body: bytes) -> list[Event]:
        envelope = load_json_body(body)
        if not isinstance(envelope, dict):
            raise WebhookParseError("WAHA webhook body must be a JSON object.")
        event = require_str(envelope, "event", "envelope")
        if event not in WEBHOOK_EVENTS:
            return []
        session = require_str(envelope, "session", "envelope")
        payload = envelope.get("payload")
        if not isinstance(payload, dict):
            raise WebhookParseError("WAHA webhook envelope has no 'payload' object.")
        envelope_id = envelope.get("id")
        event_id = envelope_id if isinstance(envelope_id, str) and envelope_id else None
        if event == "message":
            return self._parse_message(envelope, payload, session, event_id)
        if event == "message.ack":
            return self._parse_ack(payload, session, event_id)
        return self._parse_status(envelope, payload, session, event_id)

    @staticmethod
    def _parse_message(
        envelope: dict[str, Any], payload: dict[str, Any], session: str, event_id: str | None
    ) -> list[Event]:
        raw_id = require_str(payload, "id", "message payload")
        sender = require_str(payload, "from", "message payload")
        if payload.get("fromMe") is True or not is_direct_chat(sender):
            return []
        message_id = short_message_id(raw_id)
        extra = as_dict(payload.get("_data"))
        key = as_dict(extra.get("key"))
        phone, lid = sender_identity(sender, key.get("remoteJidAlt"), key.get("senderPn"))
        push_name = extra.get("notifyName") or extra.get("pushName")
        when = refined_time(payload.get("timestamp"), envelope.get("timestamp"))
        body = payload.get("body")
        return [
            InboundMessage(
                event_id=event_id or f"waha:{session}:message:{message_id}",
                message_id=message_id,
                session=session,
                sender=sender,
                phone=phone,
                push_name=push_name if isinstance(push_name, str) and push_name else None,
                body=body if isinstance(body, str) else "",
                timestamp=when or datetime.now(tz=UTC),
                has_media=payload.get("hasMedia") is True,
                lid=lid,
                quoted_id=_quoted_id(payload, extra),
            )
        ]

    @staticmethod
    def _parse_ack(payload: dict[str, Any], session: str, event_id: str | None) -> list[Event]:
        raw_id = require_str(payload, "id", "ack payload")
        if payload.get("fromMe") is False:
            return []  # our own read receipts for inbound messages: nothing we track
        name = payload.get("ackName")
        if not isinstance(name, str):
            name = ACK_NAMES.get(payload.get("ack"), "")  # type: ignore[arg-type]
        status = ACK_MAP.get(name.upper())
        if status is None:
            return []  # PENDING or unknown: not progress worth recording
        message_id = short_message_id(raw_id)
        return [
            Ack(
                event_id=event_id or f"waha:{session}:ack:{message_id}:{status}",
                message_id=message_id,
                session=session,
                status=status,
            )
        ]

    @staticmethod
    def _parse_status(
        envelope: dict[str, Any], payload: dict[str, Any], session: str, event_id: str | None
    ) -> list[Event]:
        raw = require_str(payload, "status", "session.status payload")
        if raw not in STATUS_MAP:
            return []
        me = as_dict(envelope.get("me")) or as_dict(payload.get("me"))
        push_name = me.get("pushName")
        return [
            StatusChange(
                # Without an envelope id (WAHA Core) identical bodies recur legitimately
                # (STARTING, FAILED, STARTING...): each delivery is its own event, and applying
                # a status the device already has changes nothing.
                event_id=event_id or f"waha:{session}:status:{uuid.uuid4().hex}",
                session=session,
                status=STATUS_MAP[raw],
                phone=phone_from_jid(me.get("id")),
                push_name=push_name if isinstance(push_name, str) and push_name else None,
            )
        ]

    # --- chat history (reconciling sends whose outcome is unknown) -----------------------------

    def recent_outgoing(
        self, *, session: str, phone: str, since: datetime, limit: int = 50
    ) -> list[HistoryMessage]:
        path = f"/api/{validate_session_name(session)}/chats/{phone_digits(phone)}@c.us/messages"
        params = {"limit": str(limit), "downloadMedia": "false"}
        # 400/404/422/501: this engine or tier keeps no history (NOWEB without a store, an old
        # image), or the session is gone; none of them will change by asking again.
        reply = self._history_request("GET", path, params=params, expected=(400, 404, 422, 501))
        if not isinstance(reply.data, list):
            raise self._unreadable("chat history", status=reply.status)
        return history_since(map(_history_item, reply.data), since)

    # --- contacts --------------------------------------------------------------------------

    def contact_exists(self, *, session: str, phone: str) -> bool:
        reply = self._request(
            "GET",
            "/api/contacts/check-exists",
            params={"phone": phone_digits(phone), "session": validate_session_name(session)},
            expected=(422,),
        )
        if reply.status == 422:
            raise GatewayError(
                f"{self.label} cannot check numbers through '{session}': the session is not "
                "connected",
                permanent=True,
                status=422,
                code="session_not_ready",
            )
        exists = as_dict(reply.data).get("numberExists")
        if not isinstance(exists, bool):
            raise self._fail("answered the number check without 'numberExists'")
        return exists

    # --- pairing by phone number (issue 11) ----------------------------------------------------

    def session_pairing_code(self, name: str, phone: str) -> str:
        """POST /api/{session}/auth/request-code {"phoneNumber": "62..."} -> {"code": "ABCD-EFGH"};
        the session must be waiting for a QR scan (SCAN_QR_CODE)."""
        name = validate_session_name(name)
        reply = self._request(
            "POST",
            f"/api/{name}/auth/request-code",
            json={"phoneNumber": phone_digits(phone)},
            expected=(400, 404, 422),
        )
        data = as_dict(reply.data)
        if reply.status == 400:
            raise self._invalid_phone(reply.data)
        if reply.status == 404:
            raise self._missing(name, data)
        if reply.status == 422:
            if is_core_limit(data):
                raise self._core_limit_error()
            # The status comes as a field or only in the sentence ("..., status: 'WORKING', ...").
            if data.get("status") == "WORKING" or "status: 'working'" in _text(data).lower():
                raise self._already_connected(name, status=422)
            raise self._pairing_code_not_ready(name, status=422)
        return self._pairing_code_in(data, "code")


def _history_item(item: object) -> HistoryMessage | None:
    data = as_dict(item)
    raw_id = data.get("id")
    if isinstance(raw_id, dict):
        raw_id = raw_id.get("_serialized") or raw_id.get("id")
    if not isinstance(raw_id, str) or not raw_id:
        return None
    body = data.get("body")
    return HistoryMessage(
        message_id=short_message_id(raw_id),
        from_me=data.get("fromMe") is True,
        body=body if isinstance(body, str) else "",
        timestamp=to_datetime(data.get("timestamp")),
    )
