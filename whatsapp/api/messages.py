"""API: send messages (202 + Idempotency-Key), read them, list messages and conversations."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from whatsapp import selectors, services
from whatsapp.api.common import acting_tenant, actor, iso, keyset_page
from whatsapp.models import Conversation, Message
from whatsapp.services.templates import message_body

router = Router(tags=["messages"])


class MessageIn(Schema):
    to: str = Field(description="Phone number: +6281234567890, 081234567890 or 6281234567890")
    body: str | None = Field(None, description="The text; or send `template` + `variables`.")
    template: str | None = Field(None, description="A template's name, instead of `body`.")
    variables: dict[str, Any] | None = Field(None, description='e.g. {"nama": "Budi"}')
    device_id: uuid.UUID | None = None


class MessageFilters(Schema):
    status: (
        Literal["queued", "sending", "sent", "delivered", "read", "failed", "received"] | None
    ) = None
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
        "last_message_preview": conversation.last_message_preview,
        "unread_count": conversation.unread_count,
    }


@router.post("/messages", response={202: dict})
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
        actor=actor(request),
    )
    message = Message.objects.select_related("conversation").get(pk=message.pk)
    return Status(202, {"message": message_as_dict(message), "replayed": not created})


@router.get("/messages/{message_id}")
def message_get(request, message_id: uuid.UUID):
    tenant = acting_tenant(request)
    message = get_object_or_404(
        Message.objects.select_related("conversation"), pk=message_id, tenant=tenant
    )
    return {"message": message_as_dict(message)}


@router.get("/messages")
def message_list(request, filters: Query[MessageFilters]):
    """Newest first; follow `next` for older pages."""
    tenant = acting_tenant(request)
    queryset = Message.objects.filter(tenant=tenant).select_related("conversation")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.direction:
        queryset = queryset.filter(direction=filters.direction)
    if filters.conversation_id:
        queryset = queryset.filter(conversation_id=filters.conversation_id)
    if filters.device_id:
        queryset = queryset.filter(device_id=filters.device_id)
    if filters.contact:
        queryset = queryset.filter(conversation__contact=services.normalise_phone(filters.contact))
    rows, next_cursor = keyset_page(
        queryset, field="created_at", cursor=filters.cursor, limit=filters.limit
    )
    return {"results": [message_as_dict(m) for m in rows], "next": next_cursor}


@router.get("/conversations")
def conversation_list(request, filters: Query[ConversationFilters]):
    """Newest activity first; `q` searches contact name and number."""
    tenant = acting_tenant(request)
    queryset = Conversation.objects.filter(tenant=tenant)
    if filters.device_id:
        queryset = queryset.filter(device_id=filters.device_id)
    if filters.q:
        queryset = queryset.filter(selectors.conversation_match(filters.q))
    rows, next_cursor = keyset_page(
        queryset, field="last_message_at", cursor=filters.cursor, limit=filters.limit
    )
    return {"results": [conversation_as_dict(c) for c in rows], "next": next_cursor}
