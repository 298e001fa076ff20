"""Shared factories for test objects: tenants, members, endpoint configs, devices, chats, tokens.

Plain functions rather than factory_boy: the objects are few and flat, every default fits on one
line here, and a test that needs another value passes it as a keyword (`status=`, `phone=`...).
The cast (booqing/test.py) stays the fixed set of people; these make everything around them.
"""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from tenants.models import Membership, Tenant
from tenants.test import PASSWORD
from whatsapp import services
from whatsapp.models import (
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)


def make_tenant(name: str = "Initech Spa", subdomain: str | None = None, **fields) -> Tenant:
    subdomain = subdomain or f"t{uuid.uuid4().hex[:10]}"
    return Tenant.objects.create(name=name, subdomain=subdomain, **fields)


def make_member(tenant: Tenant, username: str | None = None, *, role=Membership.Role.STAFF):
    """A user with the cast's password and a membership of `tenant` in `role`."""
    username = username or f"user-{uuid.uuid4().hex[:8]}"
    user = get_user_model().objects.create_user(username, f"{username}@member.test", PASSWORD)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def make_config(tenant: Tenant, endpoint: str = "Primary", **fields) -> TenantWhatsAppConfig:
    """The tenant's WhatsApp config on `endpoint` (is_configured as the superadmin leaves it)."""
    fields.setdefault("is_configured", True)
    return TenantWhatsAppConfig.objects.create(tenant=tenant, endpoint_name=endpoint, **fields)


def make_device(
    tenant: Tenant,
    name: str = "Front desk",
    *,
    status: str = DeviceStatus.CONNECTED,
    endpoint: str = "Primary",
    session: str | None = None,
    secret: str | None = None,
    **fields,
) -> Device:
    """A device row as device_create leaves it, without calling the gateway.

    The session name is unique per call unless given; the webhook secret follows the session.
    """
    session = session or f"bq-{tenant.subdomain}-{uuid.uuid4().hex[:12]}"
    return Device.objects.create(
        tenant=tenant,
        name=name,
        endpoint_name=endpoint,
        session_name=session,
        status=status,
        webhook_secret=secret or f"webhook-secret-{session}",
        **fields,
    )


def make_front_desk(
    tenant: Tenant, name: str = "Front desk", *, configured: bool = True, config=None, **fields
) -> Device:
    """Endpoint "Primary" set up for `tenant` and its connected device `name` on it.

    The start of most inbox, view and service tests. `configured=False` leaves the config as
    the superadmin's assignment does before it is finished; `config` adds config fields; the
    rest go to make_device (the session and secret default to the inbox tests' fixed ones).
    """
    make_config(tenant, is_configured=configured, **(config or {}))
    fields.setdefault("session", f"bq-{tenant.subdomain}-front-desk")
    fields.setdefault("secret", "secret-front-desk")
    return make_device(tenant, name, **fields)


def make_conversation(device: Device, contact: str = "+6281234567890", **fields) -> Conversation:
    fields.setdefault("last_message_at", timezone.now())
    return Conversation.objects.create(
        tenant=device.tenant, device=device, contact=contact, **fields
    )


def make_message(
    conversation: Conversation,
    body: str = "Hello",
    *,
    direction: str = "out",
    status: str = MessageStatus.SENT,
    **fields,
) -> Message:
    return Message.objects.create(
        tenant=conversation.tenant,
        device=conversation.device,
        conversation=conversation,
        direction=direction,
        body=body,
        status=status,
        **fields,
    )


def make_token(
    tenant: Tenant, name: str = "Booking app", *, scopes=("messages", "devices"), actor=None
) -> str:
    """A tenant API token through the service (only its hash is stored); returns the plain value.

    Both scopes by default: most tests are about tenants and hosts, not scopes.
    """
    return services.api_token_create(tenant=tenant, name=name, actor=actor, scopes=scopes)[1]
