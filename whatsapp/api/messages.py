"""API: send messages (202 + Idempotency-Key), read them, retry or settle them, list messages
and conversations in the order they were written."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from django.db.models import F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.audit import request_actor as actor
from core.errors import ApplicationError, ErrorKind
from whatsapp import selectors_tenant as reads
from whatsapp import services
from whatsapp.api.common import MAX_PAGE, acting_tenant, iso
from whatsapp.api.schemas import ERRORS
from whatsapp.models import Conversation, Message, MessageStatus
from whatsapp.services.templates import message_body

router = Router(tags=["messages"])


class MessageIn(Schema):
    to: str = Field(description="Phone number: +6281234567890, 081234567890 or 6281234567890")
    body: str | None = Field(None, description="The text; or send `template` + `variables`.")
    template: str | None = Field(None, description="A template's name, instead of `body`.")
    variables: dict[str, Any] | None = Field(None, description='e.g. {"nama": "Budi"}')
    device_id: uuid.UUID | None = None
    expires_at: datetime | None = Field(
        None,
        description="ISO 8601 with an offset, e.g. 2026-12-24T10:00:00+07:00. Not sent after "
        "this; default: the tenant's message expiry (24 h) from now (from send_at if given).",
    )
    send_at: datetime | None = Field(
        None,
        description="ISO 8601 with an offset: send then (status `scheduled` until then). The "
        "tenant's quiet hours may move it later; the answer's `send_at` is when it goes.",
    )


class MessageFilters(Schema):
    status: Literal[tuple(MessageStatus.values)] | None = None  # type: ignore[valid-type]
    direction: Literal["in", "out"] | None = None
    conversation_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    contact: str | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class ConversationFilters(Schema):
    q: str | None = Field(None, max_length=100)
    device_id: uuid.UUID | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


ISO = "ISO 8601"


class MessageOut(Schema):
    id: str
    direction: str = Field(description="in or out")
    status: str
    contact: str = Field(description="E.164")
    body: str
    device_id: str
    conversation_id: str
    gateway_message_id: str | None
    idempotency_key: str | None
    attempts: int
    last_error: str | None
    needs_decision: bool = Field(
        description="Unconfirmed and WhatsApp's history cannot be checked: POST .../send-again "
        "or .../mark-sent settles it."
    )
    waiting_since: str | None = Field(description=ISO)
    expires_at: str | None = Field(description=ISO)
    send_at: str | None = Field(description=ISO)
    written_at: str | None = Field(description=ISO)
    sequence: int | None
    created_at: str | None = Field(description=ISO)
    sent_at: str | None = Field(description=ISO)
    delivered_at: str | None = Field(description=ISO)
    read_at: str | None = Field(description=ISO)


class MessageEnvelope(Schema):
    message: MessageOut


class MessageSentOut(Schema):
    message: MessageOut
    replayed: bool = Field(description="True when this Idempotency-Key was sent before.")


class MessagePage(Schema):
    results: list[MessageOut]
    next: str | None = Field(description="The cursor of the next page; null on the last.")


class ConversationOut(Schema):
    id: str
    device_id: str
    contact: str = Field(description="E.164")
    contact_name: str | None
    last_message_at: str | None = Field(description=ISO)
    last_message_sequence: int
    last_message_preview: str
    unread_count: int


class ConversationPage(Schema):
    results: list[ConversationOut]
    next: str | None = Field(description="The cursor of the next page; null on the last.")


def message_as_dict(message: Message) -> dict:
    return {
        "id": str(message.id),
        "direction": message.direction,
        "status": message.status,
        "contact": message.conversation.contact,
        "body": message.body,
        "device_id": str(message.device_id),
        "conversation_id": str(message.conversation_id),
        "gateway_message_id": message.gateway_message_id,
        "idempotency_key": message.idempotency_key,
        "attempts": message.attempts,
        "last_error": message.last_error or None,
        # unconfirmed + needs_decision: WhatsApp may have it and its history cannot be checked;
        # POST .../send-again or .../mark-sent settles it.
        "needs_decision": message.awaiting_decision,
        "waiting_since": iso(message.waiting_since),
        "expires_at": iso(message.expires_at),
        "send_at": iso(message.send_at),
        "written_at": iso(message.written_at),
        "sequence": message.seq,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
        "delivered_at": iso(message.delivered_at),
        "read_at": iso(message.read_at),
    }


def conversation_as_dict(conversation: Conversation) -> dict:
    return {
        "id": str(conversation.id),
        "device_id": str(conversation.device_id),
        "contact": conversation.contact,
        "contact_name": conversation.contact_name or None,
        "last_message_at": iso(conversation.last_message_at),
        "last_message_sequence": conversation.last_message_seq,
        "last_message_preview": conversation.last_message_preview,
        "unread_count": conversation.unread_count,
    }


@router.post("/messages", response={202: MessageSentOut, **ERRORS})
def message_send(request, payload: MessageIn):
    """Queue a message. Send an `Idempotency-Key` header to make retries safe."""
    tenant = acting_tenant(request)
    message, created = services.message_send(
        tenant=tenant,
        to=payload.to,
        body=message_body(
            tenant=tenant,
            body=payload.body,
            template=payload.template,
            variables=payload.variables,
        ),
        device_id=payload.device_id,
        idempotency_key=request.headers.get("Idempotency-Key") or None,
        expires_at=payload.expires_at,
        send_at=payload.send_at,
        actor=actor(request),
    )
    message = reads.message_with_conversation(message_id=message.pk)
    return Status(202, {"message": message_as_dict(message), "replayed": not created})


def _message_for(request, message_id: uuid.UUID) -> Message:
    tenant = acting_tenant(request)
    return get_object_or_404(reads.tenant_messages(tenant=tenant), pk=message_id)


def _reloaded(message: Message) -> dict:
    return {"message": message_as_dict(reads.message_with_conversation(message_id=message.pk))}


@router.get("/messages/{message_id}", response={200: MessageEnvelope, **ERRORS})
def message_get(request, message_id: uuid.UUID):
    return {"message": message_as_dict(_message_for(request, message_id))}


@router.post("/messages/{message_id}/retry", response={202: MessageEnvelope, **ERRORS})
def message_retry(request, message_id: uuid.UUID):
    """Send a failed or expired message again; an unconfirmed one is first looked up in the
    gateway's history (it is never sent twice)."""
    message = services.message_retry(message=_message_for(request, message_id))
    return Status(202, _reloaded(message))


@router.post("/messages/{message_id}/send-again", response={202: MessageEnvelope, **ERRORS})
def message_send_again(request, message_id: uuid.UUID):
    """For an unconfirmed message whose history cannot be checked: you decided it was not sent."""
    message = services.message_send_again(message=_message_for(request, message_id))
    return Status(202, _reloaded(message))


@router.post("/messages/{message_id}/mark-sent", response={200: MessageEnvelope, **ERRORS})
def message_mark_sent(request, message_id: uuid.UUID):
    """For an unconfirmed message: you know it arrived (e.g. you saw it on the phone)."""
    message = services.message_mark_sent(
        message=_message_for(request, message_id), actor=actor(request)
    )
    return _reloaded(message)


@router.post("/messages/{message_id}/cancel", response={200: MessageEnvelope, **ERRORS})
def message_cancel(request, message_id: uuid.UUID):
    message = services.message_cancel(message=_message_for(request, message_id))
    return _reloaded(message)


def _encode(values: list) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        at = parse_datetime(values[0]) if values[0] else None
        if at is not None:
            # Year 1 at +14:00 parses but lies before datetime.min in UTC: the database adapter
            # (SQLite) would overflow converting it, so it is refused here as a bad cursor.
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        return [at, *map(_tie_breaker, values[1:])]
    except (
        ValueError,
        TypeError,
        AttributeError,
        OverflowError,
        RecursionError,
        binascii.Error,
    ):
        raise ApplicationError(
            "Invalid cursor: pass the 'next' value from the previous page unchanged.",
            "invalid_cursor",
            kind=ErrorKind.MALFORMED,
        ) from None


def _tie_breaker(value: object) -> int | str | None:
    """A sequence number or a row id, nothing else (a hand-made cursor may hold anything)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    if isinstance(value, str):
        return str(uuid.UUID(value))
    raise ValueError("not a cursor value")


def _before(keys: list[str], values: list) -> Q:
    """Rows after (key1, key2, ...) = values in newest-first order; a null first key sorts last."""
    first, rest = keys[0], keys[1:]
    at = values[0]
    tail = Q()
    for n in range(len(rest)):
        equal = {k: v for k, v in zip(rest[:n], values[1 : n + 1], strict=True)}
        tail |= Q(**equal, **{f"{rest[n]}__lt": values[n + 1]})
    if at is None:
        return Q(**{f"{first}__isnull": True}) & tail
    return Q(**{f"{first}__lt": at}) | Q(**{first: at}) & tail | Q(**{f"{first}__isnull": True})


def _ordered_page(
    queryset: QuerySet, *, keys: list[str], cursor: str | None, limit: int
) -> tuple[list, str | None]:
    """Newest-first keyset paging on `keys` (a timestamp, then tie-breakers): stable while
    new rows arrive, and in the order the messages were written."""
    limit = max(1, min(limit, MAX_PAGE))
    queryset = queryset.order_by(F(keys[0]).desc(nulls_last=True), *[f"-{k}" for k in keys[1:]])
    if cursor:
        queryset = queryset.filter(_before(keys, _decode(cursor, len(keys))))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not has_more:
        return rows, None
    last = rows[-1]
    values = [iso(getattr(last, keys[0]))] + [_json_value(getattr(last, k)) for k in keys[1:]]
    return rows, _encode(values)


def _json_value(value):
    return str(value) if isinstance(value, uuid.UUID) else value


@router.get("/messages", response={200: MessagePage, **ERRORS})
def message_list(request, filters: Query[MessageFilters]):
    """Newest first, in the order written (gateway timestamp, then arrival); follow `next`."""
    tenant = acting_tenant(request)
    queryset = reads.message_search(
        tenant=tenant,
        status=filters.status,
        direction=filters.direction,
        conversation_id=filters.conversation_id,
        device_id=filters.device_id,
        contact=services.normalise_phone(filters.contact) if filters.contact else None,
    )
    rows, next_cursor = _ordered_page(
        queryset, keys=["written_at", "seq"], cursor=filters.cursor, limit=filters.limit
    )
    return {"results": [message_as_dict(m) for m in rows], "next": next_cursor}


@router.get("/conversations", response={200: ConversationPage, **ERRORS})
def conversation_list(request, filters: Query[ConversationFilters]):
    """Newest last message first (as written); `q` searches contact name and number."""
    tenant = acting_tenant(request)
    queryset = reads.conversation_search(
        tenant=tenant, device_id=filters.device_id, q=filters.q or ""
    )
    rows, next_cursor = _ordered_page(
        queryset,
        keys=["last_message_at", "last_message_seq", "id"],
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"results": [conversation_as_dict(c) for c in rows], "next": next_cursor}
