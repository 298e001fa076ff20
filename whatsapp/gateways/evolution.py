"""Adapter for Evolution API v2 gateways: instances, QR codes, sending and webhooks."""

from __future__ import annotations

import re
import secrets
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
    fallback_event_id,
    header_value,
    history_since,
    is_direct_chat,
    load_json_body,
    phone_digits,
    phone_from_jid,
    require_str,
    secrets_equal,
    sender_identity,
    to_datetime,
    validate_session_name,
)

STATE_MAP = {
    "open": "connected",
    "connecting": "starting",
    "created": "starting",
    "close": "stopped",
    "refused": "failed",
}
ACK_MAP = {
    "ERROR": "failed",
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
}
# Baileys' numeric WebMessageInfo status, seen in older v2 payloads.
ACK_NUMBERS = {0: "ERROR", 1: "PENDING", 2: "SERVER_ACK", 3: "DELIVERY_ACK", 4: "READ", 5: "PLAYED"}
WEBHOOK_EVENTS = ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE", "QRCODE_UPDATED"]
SECRET_HEADER = "X-Webhook-Secret"
LOGGED_OUT_REASON = 401  # Baileys DisconnectReason.loggedOut
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
# sendText on an instance that is not open answers 500 with Baileys' or Node's own words.
_NOT_CONNECTED = re.compile(
    r"connection closed|not connected|cannot read properties of undefined|socket", re.I
)
_NOT_ON_WHATSAPP = re.compile(r'"exists"\s*:\s*false|not (on|registered (on|in)) whatsapp', re.I)


def map_state(raw: object) -> str:
    return STATE_MAP.get(raw, "starting") if isinstance(raw, str) else "starting"


def message_text(message: dict[str, Any]) -> tuple[str, bool]:
    """(text, has_media) from a Baileys message object: plain, extended, or a media caption."""
    if isinstance(message.get("conversation"), str):
        return message["conversation"], False
    extended = as_dict(message.get("extendedTextMessage"))
    if isinstance(extended.get("text"), str):
        return extended["text"], False
    for kind in MEDIA_KINDS:
        media = message.get(f"{kind}Message")
        if isinstance(media, dict):
            caption = media.get("caption")
            return (caption if isinstance(caption, str) else ""), True
    return "", False


def _quoted_id(data: dict[str, Any]) -> str | None:
    """The quoted message's id from Baileys' contextInfo (top level or inside the message)."""
    message = as_dict(data.get("message"))
    contexts = [as_dict(data.get("contextInfo"))] + [
        as_dict(as_dict(part).get("contextInfo")) for part in message.values()
    ]
    for context in contexts:
        stanza = context.get("stanzaId")
        if isinstance(stanza, str) and stanza:
            return stanza
    return None


class EvolutionGateway(HttpGateway):
    provider = "evolution"
    session_noun = "instance"

    def _auth_headers(self) -> dict[str, str]:
        return {"apikey": self.endpoint.api_key.reveal()}

    # --- server ----------------------------------------------------------------------------

    def health(self) -> Health:
        # GET / fetches web.whatsapp.com on every call (0.05-5 s): no cheap probe. verify-creds
        # answers at once and checks the key, so it is the liveness call and the key check.
        return self._health_probe(("POST", "/verify-creds"), ("POST", "/verify-creds"))

    def capabilities(self) -> Capabilities:
        version = ""
        try:
            # Only here (hourly at most) is the slow GET / worth its version string.
            data = as_dict(self._request("GET", "/").data)
            version = data.get("version") if isinstance(data.get("version"), str) else ""
        except GatewayError:
            pass
        return Capabilities(
            provider=self.provider,
            version=version[:60],
            key_enforced=self._key_enforced("POST", "/verify-creds", "apikey"),
            # Not a signature, but a secret header we set and it sends back verbatim.
            signs_webhooks=True,
            multi_session=True,
        )

    def session_configure(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> None:
        payload = {"webhook": {**self._webhook(webhook_url, webhook_secret), "enabled": True}}
        path = f"/webhook/set/{validate_session_name(name)}"
        self._session_call("POST", path, name, json=payload)

    @staticmethod
    def _webhook(url: str, secret: str) -> dict[str, Any]:
        return {
            "url": url,
            "byEvents": False,
            "base64": False,
            "headers": {SECRET_HEADER: secret},
            "events": list(WEBHOOK_EVENTS),
        }

    # --- instances -------------------------------------------------------------------------

    def session_create(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> SessionStatus:
        # Evolution has no per-instance metadata and a fixed retry policy, so both are unused.
        payload = {
            "instanceName": validate_session_name(name),
            "integration": "WHATSAPP-BAILEYS",
            "qrcode": True,
            # The instance token is a second credential Evolution insists on; we authenticate
            # with the global key, so a random one nobody knows is the safest value.
            "token": secrets.token_urlsafe(32),
            "webhook": self._webhook(webhook_url, webhook_secret),
        }
        # With qrcode:true the server sleeps 5 s before answering (8 s has been seen).
        reply = self._request(
            "POST", "/instance/create", json=payload, expected=(403,), timeout=CREATE_TIMEOUT
        )
        if reply.status == 403:
            raise GatewayError(
                f"{self.label} already has an instance named '{name}'",
                permanent=True,
                status=403,
                code="session_exists",
            )
        data = as_dict(reply.data)
        instance = as_dict(data.get("instance"))
        raw = instance.get("status") if isinstance(instance.get("status"), str) else ""
        has_qr = bool(as_dict(data.get("qrcode")).get("code"))
        # Right after create the reported state races between close and connecting: either
        # means "starting", never a dropped device.
        status = "scan_qr" if has_qr and raw != "open" else map_state(raw or "connecting")
        if status == "stopped":
            status = "starting"
        return SessionStatus(name=name, status=status, raw_status=raw)

    def session_status(self, name: str) -> SessionStatus:
        path = f"/instance/connectionState/{validate_session_name(name)}"
        data = as_dict(self._session_call("GET", path, name).data)
        raw = as_dict(data.get("instance")).get("state") or data.get("state")
        if not isinstance(raw, str):
            raise self._unreadable("connection state")
        # connectionState cannot tell "waiting for a QR scan" from "starting"; the
        # qrcode.updated webhook is what moves a device to scan_qr.
        phone, push_name = self._owner(name) if raw == "open" else (None, None)
        return SessionStatus(
            name=name, status=map_state(raw), phone=phone, push_name=push_name, raw_status=raw
        )

    def _owner(self, name: str) -> tuple[str | None, str | None]:
        """Best effort: the paired phone is only in the instance list, not in connectionState."""
        try:
            reply = self._request("GET", "/instance/fetchInstances", params={"instanceName": name})
        except GatewayError:
            return None, None
        rows = reply.data if isinstance(reply.data, list) else [reply.data]
        for row in map(as_dict, rows):
            row = as_dict(row.get("instance")) or row  # v1 nests the fields
            if row.get("name", row.get("instanceName")) == name:
                push_name = row.get("profileName")
                jid = row.get("ownerJid") or row.get("owner")
                return phone_from_jid(jid), push_name if isinstance(push_name, str) else None
        return None, None

    def session_qr(self, name: str) -> QrCode:
        data = as_dict(
            self._session_call("GET", f"/instance/connect/{validate_session_name(name)}", name).data
        )
        code = data.get("code")
        image = data.get("base64")
        if not (isinstance(code, str) and code):
            # Already connected (the reply is the instance state) or the QR is not generated yet.
            raise self._qr_not_ready(name)
        mimetype = None
        if isinstance(image, str) and image.startswith("data:") and ";base64," in image:
            header, image = image.split(";base64,", 1)
            mimetype = header.removeprefix("data:") or None
        return QrCode(
            value=code,
            image_base64=image if isinstance(image, str) and image else None,
            mimetype=mimetype,
        )

    def session_restart(self, name: str) -> None:
        name = validate_session_name(name)
        reply = self._session_call("POST", f"/instance/restart/{name}", name)
        if as_dict(reply.data).get("error") is True:
            # A closed instance answers 200 {"error": true} and does nothing; connect is what
            # starts it again (and it answers 404 if the instance is gone).
            self._session_call("GET", f"/instance/connect/{name}", name)

    def session_logout(self, name: str) -> None:
        name = validate_session_name(name)
        reply = self._request("DELETE", f"/instance/logout/{name}", expected=(400, 404))
        if reply.status == 404:
            raise self._no_session(name)
        if reply.status == 400 and "not connected" not in self.safe_detail(reply.data).lower():
            raise self._status_error(400, reply.data, None)
        # 400 "instance is not connected": no phone is linked, which is what logout wants.

    def session_delete(self, name: str) -> None:
        self._request(
            "DELETE",
            f"/instance/delete/{validate_session_name(name)}",
            expected=(404,),
        )

    # --- messages --------------------------------------------------------------------------

    def send_text(
        self, *, session: str, phone: str, text: str, timeout: float | None = None
    ) -> SentMessage:
        path = f"/message/sendText/{validate_session_name(session)}"
        payload = {"number": phone_digits(phone), "text": text}
        reply = self._request(
            path=path, method="POST", json=payload, timeout=timeout, expected=(400, 404, 500)
        )
        if reply.status == 404:
            raise self._no_session(session)
        if reply.status == 500:
            if _NOT_CONNECTED.search(self.safe_detail(reply.data)):
                raise GatewayError(
                    f"{self.label} cannot send from '{session}': the session is not connected",
                    permanent=True,
                    status=500,
                    code="session_not_ready",
                )
            raise self._status_error(500, reply.data, None)
        if reply.status == 400:
            if _NOT_ON_WHATSAPP.search(reply.text):
                raise GatewayError(
                    f"{self.label} says the number is not on WhatsApp",
                    permanent=True,
                    status=400,
                    code="not_on_whatsapp",
                )
            detail = self.safe_detail(reply.data) or "the message was refused"
            raise GatewayError(
                f"{self.label} answered 400 Bad Request: {detail}",
                permanent=True,
                status=400,
                code="invalid_request",
            )
        message_id = as_dict(as_dict(reply.data).get("key")).get("id")
        return SentMessage(message_id=message_id if isinstance(message_id, str) else None)

    # --- webhooks --------------------------------------------------------------------------

    def webhook_signature_present(self, headers: Mapping[str, str]) -> bool:
        return header_value(headers, SECRET_HEADER) is not None

    def verify_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None
    ) -> bool:
        # Evolution does not sign; the per-device secret header is the whole proof.
        try:
            given = header_value(headers, SECRET_HEADER)
            return bool(secret) and isinstance(given, str) and secrets_equal(given, secret)
        except Exception:  # non-ASCII or odd header types are simply "not authentic"
            return False

    def parse_webhook(self, body: bytes) -> list[Event]:
        envelope = load_json_body(body)
        if not isinstance(envelope, dict):
            raise WebhookParseError("Evolution webhook body must be a JSON object.")
        # byEvents / older releases spell events MESSAGES_UPSERT; v2 sends messages.upsert.
        event = require_str(envelope, "event", "envelope").lower().replace("_", ".")
        handler = {
            "messages.upsert": self._parse_message,
            "messages.update": self._parse_ack,
            "connection.update": self._parse_connection,
            "qrcode.updated": self._parse_qrcode,
        }.get(event)
        if handler is None:
            return []
        instance = envelope.get("instance")
        if isinstance(instance, dict):
            instance = instance.get("instanceName")
        if not isinstance(instance, str) or not instance:
            raise WebhookParseError("Evolution webhook envelope has no 'instance'.")
        data = envelope.get("data")
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(item, dict) for item in items):
            raise WebhookParseError("Evolution webhook envelope has no 'data' object.")
        events: list[Event] = []
        for item in items:
            events.extend(handler(envelope, item, instance))
        return events

    @staticmethod
    def _parse_message(envelope: dict[str, Any], data: dict[str, Any], session: str) -> list[Event]:
        key = data.get("key")
        if not isinstance(key, dict):
            raise WebhookParseError("Evolution message has no 'key' object.")
        message_id = require_str(key, "id", "message key")
        sender = require_str(key, "remoteJid", "message key")
        if key.get("fromMe") is True or not is_direct_chat(sender):
            return []
        phone, lid = sender_identity(sender, key.get("remoteJidAlt"), key.get("senderPn"))
        body, has_media = message_text(as_dict(data.get("message")))
        kind = data.get("messageType")
        if isinstance(kind, str) and kind.removesuffix("Message") in MEDIA_KINDS:
            has_media = True
        push_name = data.get("pushName")
        when = to_datetime(data.get("messageTimestamp")) or datetime.now(tz=UTC)
        return [
            InboundMessage(
                event_id=message_id,
                message_id=message_id,
                session=session,
                sender=sender,
                phone=phone,
                push_name=push_name if isinstance(push_name, str) and push_name else None,
                body=body,
                timestamp=when,
                has_media=has_media,
                lid=lid,
                quoted_id=_quoted_id(data),
            )
        ]

    @staticmethod
    def _parse_ack(envelope: dict[str, Any], data: dict[str, Any], session: str) -> list[Event]:
        key = as_dict(data.get("key"))
        message_id = data.get("keyId") or key.get("id")
        if not isinstance(message_id, str) or not message_id:
            raise WebhookParseError("Evolution message update has no 'keyId'.")
        if data.get("fromMe", key.get("fromMe")) is False:
            return []
        raw = data.get("status", as_dict(data.get("update")).get("status"))
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = ACK_NUMBERS.get(raw)
        status = ACK_MAP.get(raw.upper()) if isinstance(raw, str) else None
        if status is None:
            return []  # PENDING, DELETED and the like carry no delivery progress
        # No envelope id: one event per (message, status) so each step is recorded once.
        event_id = f"{message_id}:{status}"
        return [Ack(event_id=event_id, message_id=message_id, session=session, status=status)]

    @staticmethod
    def _parse_connection(
        envelope: dict[str, Any], data: dict[str, Any], session: str
    ) -> list[Event]:
        raw = require_str(data, "state", "connection.update data")
        status = map_state(raw)
        if raw == "close" and data.get("statusReason") == LOGGED_OUT_REASON:
            status = "failed"  # logged out from the phone: only a new pairing brings it back
        push_name = data.get("profileName")
        return [
            StatusChange(
                event_id=fallback_event_id(
                    f"evolution:{session}:connection", [envelope.get("date_time"), data]
                ),
                session=session,
                status=status,
                phone=phone_from_jid(data.get("wuid")),
                push_name=push_name if isinstance(push_name, str) and push_name else None,
            )
        ]

    @staticmethod
    def _parse_qrcode(envelope: dict[str, Any], data: dict[str, Any], session: str) -> list[Event]:
        return [
            StatusChange(
                event_id=fallback_event_id(
                    f"evolution:{session}:qrcode", [envelope.get("date_time"), data]
                ),
                session=session,
                status="scan_qr",
            )
        ]

    # --- chat history (reconciling sends whose outcome is unknown) -----------------------------

    def recent_outgoing(
        self, *, session: str, phone: str, since: datetime, limit: int = 50
    ) -> list[HistoryMessage]:
        path = f"/chat/findMessages/{validate_session_name(session)}"
        jid = f"{phone_digits(phone)}@s.whatsapp.net"
        # Newest first, one page of `limit`; Evolution pages with page/offset (offset = size).
        payload = {"where": {"key": {"remoteJid": jid, "fromMe": True}}, "page": 1, "offset": limit}
        reply = self._history_request("POST", path, json=payload, expected=(400, 404, 501))
        data = reply.data
        # v2 answers {"messages": {"total", "pages", "currentPage", "records": [...]}}; some
        # releases answer the bare list.
        records = as_dict(as_dict(data).get("messages")).get("records")
        if isinstance(data, list):
            records = data
        if not isinstance(records, list):
            raise self._unreadable("chat history", status=reply.status)
        return history_since(map(_history_item, records), since)

    # --- contacts --------------------------------------------------------------------------

    def contact_exists(self, *, session: str, phone: str) -> bool:
        digits = phone_digits(phone)
        path = f"/chat/whatsappNumbers/{validate_session_name(session)}"
        # The device's own check: a 404 names the device, not the session behind it.
        reply = self._session_call("POST", path, None, json={"numbers": [digits]})
        for item in reply.data if isinstance(reply.data, list) else []:
            item = as_dict(item)
            number = str(item.get("number") or "").lstrip("+")
            jid = str(item.get("jid") or "")
            mine = number == digits or jid.startswith(digits + "@")
            if mine and isinstance(item.get("exists"), bool):
                return item["exists"]
        raise self._fail("answered the number check without an entry for the number")

    # --- pairing by phone number (issue 11) ----------------------------------------------------

    def session_pairing_code(self, name: str, phone: str) -> str:
        """GET /instance/connect/{name}?number=62... -> {"pairingCode": "WZYEH1YY", "code", ...};
        an instance that is already open answers with its state instead."""
        name = validate_session_name(name)
        reply = self._request(
            "GET",
            f"/instance/connect/{name}",
            params={"number": phone_digits(phone)},
            expected=(400, 404),
        )
        if reply.status == 404:
            raise self._no_session(name)
        if reply.status == 400:
            raise self._invalid_phone(reply.data)
        data = as_dict(reply.data)
        if map_state(as_dict(data.get("instance")).get("state")) == "connected":
            raise self._already_connected(name, status=409)
        if data.get("pairingCode") is None and ("pairingCode" in data or "count" in data):
            raise self._pairing_code_not_ready(name)
        return self._pairing_code_in(data, "pairingCode")


def _history_item(item: object) -> HistoryMessage | None:
    data = as_dict(item)
    key = as_dict(data.get("key"))
    message_id = key.get("id")
    if not isinstance(message_id, str) or not message_id:
        return None
    body, _ = message_text(as_dict(data.get("message")))
    return HistoryMessage(
        message_id=message_id,
        from_me=key.get("fromMe") is True,
        body=body,
        timestamp=to_datetime(data.get("messageTimestamp")),
    )
