"""Tenant-scoped reads for the pages and the API: every query starts from the tenant.

Views look one object up with `get_object_or_404(<one of these>, pk=...)`, so an object of
another tenant is a 404 (never a 403 that confirms it exists).
"""

from __future__ import annotations

from django.db.models import F, Prefetch, QuerySet

from tenants.models import Tenant
from whatsapp.models import (
    ApiToken,
    Conversation,
    Device,
    EventDelivery,
    EventEndpoint,
    Message,
    MessageTemplate,
    TenantWhatsAppConfig,
)
from whatsapp.selectors import conversation_match


def tenant_config(*, tenant: Tenant) -> TenantWhatsAppConfig | None:
    """The tenant's WhatsApp configuration, or None while no endpoint is assigned."""
    return TenantWhatsAppConfig.objects.filter(tenant=tenant).first()


def tenant_devices(*, tenant: Tenant) -> QuerySet[Device]:
    """The tenant's devices, oldest first (the order the pages list them in)."""
    return Device.objects.filter(tenant=tenant).order_by("created_at")


def tenant_conversations(*, tenant: Tenant) -> QuerySet[Conversation]:
    """The tenant's conversations, with the device and tenant a thread page shows."""
    return Conversation.objects.filter(tenant=tenant).select_related("device", "tenant")


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(conversation=conversation)


def tenant_templates(*, tenant: Tenant) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(tenant=tenant)


def tenant_event_endpoints(*, tenant: Tenant) -> QuerySet[EventEndpoint]:
    return EventEndpoint.objects.filter(tenant=tenant)


def event_endpoints_with_log(*, tenant: Tenant, log_size: int) -> list[EventEndpoint]:
    """The tenant's event endpoints, each with `.log`: its newest deliveries and their tries.

    Three queries however many endpoints: a sliced Prefetch takes each endpoint's newest
    `log_size` deliveries with a window function."""
    newest = EventDelivery.objects.order_by("-created_at").prefetch_related("tries")
    return list(
        tenant_event_endpoints(tenant=tenant).prefetch_related(
            Prefetch("deliveries", queryset=newest[:log_size], to_attr="log")
        )
    )


def tenant_event_deliveries(*, tenant: Tenant) -> QuerySet[EventDelivery]:
    return EventDelivery.objects.filter(endpoint__tenant=tenant).select_related("endpoint__tenant")


def tenant_api_tokens(*, tenant: Tenant) -> QuerySet[ApiToken]:
    """Active tokens first, then newest first, with who created each."""
    return (
        ApiToken.objects.filter(tenant=tenant)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )


def tenant_messages(*, tenant: Tenant) -> QuerySet[Message]:
    """The tenant's messages, each with the conversation (its contact) and tenant at hand."""
    return Message.objects.filter(tenant=tenant).select_related("conversation", "tenant")


def message_with_conversation(*, message_id) -> Message:
    """A message read again after a change, with its conversation (the reply shows the contact)."""
    return Message.objects.select_related("conversation").get(pk=message_id)


def message_search(
    *,
    tenant: Tenant,
    status: str | None = None,
    direction: str | None = None,
    conversation_id=None,
    device_id=None,
    contact: str | None = None,
) -> QuerySet[Message]:
    """The tenant's messages matching every filter given (`contact`: an E.164 number)."""
    queryset = Message.objects.filter(tenant=tenant).select_related("conversation")
    if status:
        queryset = queryset.filter(status=status)
    if direction:
        queryset = queryset.filter(direction=direction)
    if conversation_id:
        queryset = queryset.filter(conversation_id=conversation_id)
    if device_id:
        queryset = queryset.filter(device_id=device_id)
    if contact:
        queryset = queryset.filter(conversation__contact=contact)
    return queryset


def conversation_search(*, tenant: Tenant, device_id=None, q: str = "") -> QuerySet[Conversation]:
    """The tenant's conversations on one device (if given) whose contact matches `q`."""
    queryset = Conversation.objects.filter(tenant=tenant)
    if device_id:
        queryset = queryset.filter(device_id=device_id)
    if q:
        queryset = queryset.filter(conversation_match(q))
    return queryset


def endpoint_deliveries(
    *, endpoint: EventEndpoint, status: str | None = None
) -> QuerySet[EventDelivery]:
    """An event endpoint's deliveries (of one status, if given), with their tries."""
    queryset = EventDelivery.objects.filter(endpoint=endpoint)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.prefetch_related("tries")
