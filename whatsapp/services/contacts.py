"""Contacts: the number check (is a phone on WhatsApp? asked through the tenant's gateway,
remembered a day) and the name and note the team keeps on a conversation."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp.gateways import GatewayError
from whatsapp.models import ContactCheck, Conversation, Device, DeviceStatus
from whatsapp.services.gateway_access import gateway_for_endpoint
from whatsapp.services.messages import normalise_phone

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 10.0


def contact_check(*, tenant: Tenant, phone: object, now: datetime | None = None) -> dict:
    """{"phone": E.164, "on_whatsapp": bool, "checked_at"}; 422 for an invalid number."""
    now = now or timezone.now()
    e164 = normalise_phone(phone)
    cached = ContactCheck.objects.fresh(now=now).filter(tenant=tenant, phone=e164).first()
    if cached is not None:
        return {"phone": e164, "on_whatsapp": cached.on_whatsapp, "checked_at": cached.checked_at}
    device = (
        Device.objects.filter(tenant=tenant, status=DeviceStatus.CONNECTED)
        .order_by("created_at")
        .first()
    )
    if device is None:
        raise ApplicationError(
            "No connected WhatsApp device to ask: pair a device first, then check the number.",
            "no_connected_device",
            kind=ErrorKind.CONFLICT,
        )
    gateway = gateway_for_endpoint(device.endpoint_name, timeout=CHECK_TIMEOUT_SECONDS)
    try:
        exists = gateway.contact_exists(session=device.session_name, phone=e164)
    except GatewayError as exc:
        logger.warning("number check failed tenant=%s code=%s", tenant.subdomain, exc.code)
        raise ApplicationError(
            f"Could not check the number: {exc.message}",
            exc.code or "gateway_error",
            kind=ErrorKind.GATEWAY if exc.status != 422 else ErrorKind.CONFLICT,
        ) from None
    ContactCheck.objects.update_or_create(
        tenant=tenant, phone=e164, defaults={"on_whatsapp": exists, "checked_at": now}
    )
    return {"phone": e164, "on_whatsapp": exists, "checked_at": now}


def conversation_contact_save(*, conversation: Conversation, name: str, note: str) -> None:
    """Name the contact of a conversation and keep a note about them (the inbox shows both)."""
    conversation.contact_name, conversation.contact_note = name, note
    conversation.save(update_fields=["contact_name", "contact_note"])
