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
    """The tenant's event endpoints, each with `.log`: its newest deliveries and their tries."""
    endpoints = list(tenant_event_endpoints(tenant=tenant))
    for endpoint in endpoints:
        endpoint.log = list(
            EventDelivery.objects.filter(endpoint=endpoint)
            .order_by("-created_at")
            .prefetch_related(Prefetch("tries"))[:log_size]
        )
    return endpoints


def tenant_event_deliveries(*, tenant: Tenant) -> QuerySet[EventDelivery]:
    return EventDelivery.objects.filter(endpoint__tenant=tenant).select_related("endpoint__tenant")


def tenant_api_tokens(*, tenant: Tenant) -> QuerySet[ApiToken]:
    """Active tokens first, then newest first, with who created each."""
    return (
        ApiToken.objects.filter(tenant=tenant)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )
