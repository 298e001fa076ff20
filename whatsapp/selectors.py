"""Read queries for the WhatsApp pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from django.db.models import Count, F, Min, Q, QuerySet

from booqing.ttl_cache import TtlCache
from tenants.models import Tenant
from whatsapp.endpoints import registry
from whatsapp.gateways.base import Capabilities
from whatsapp.models import (
    DEFAULT_PHONE_REGION,
    AuditEvent,
    Conversation,
    Device,
    EndpointState,
    HealthStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.text import clean_text


def recent_audit_events(*, tenant: Tenant, limit: int = 10) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("-created_at")[:limit])


@dataclass(frozen=True)
class EndpointRow:
    name: str
    host: str
    provider: str
    tenant_count: int
    health_status: str
    latency_ms: int | None = None
    last_probe_at: datetime | None = None
    last_error: str = ""
    unhealthy_since: datetime | None = None
    capabilities: Capabilities | None = None


def capabilities_from_state(state: EndpointState | None) -> Capabilities | None:
    """An endpoint's stored capabilities, or None before the first capability probe."""
    if state is None or state.capabilities_checked_at is None:
        return None
    return Capabilities(
        provider=state.provider,
        version=state.version,
        tier=state.tier,
        engine=state.engine,
        key_enforced=state.key_enforced,
        signs_webhooks=bool(state.signs_webhooks),
        multi_session=state.multi_session is not False,
    )


def single_session_conflict(*, tenant: Tenant, endpoint_name: str) -> bool:
    """True when a one-number endpoint (WAHA Core) already carries another tenant's device."""
    capabilities = capabilities_from_state(endpoint_state(endpoint_name))
    if capabilities is None or capabilities.multi_session:
        return False
    return Device.objects.filter(endpoint_name=endpoint_name).exclude(tenant=tenant).exists()


def endpoint_overview() -> list[EndpointRow]:
    """Every configured endpoint with its tenant count and last probe (two queries)."""
    counts = {
        row["endpoint_name"]: row["n"]
        for row in TenantWhatsAppConfig.objects.values("endpoint_name").annotate(n=Count("id"))
    }
    states = {state.endpoint_name: state for state in EndpointState.objects.all()}
    rows = []
    for meta in registry().all_metadata():
        state = states.get(meta.name)
        rows.append(
            EndpointRow(
                name=meta.name,
                host=meta.host,
                provider=meta.provider,
                tenant_count=counts.get(meta.name, 0),
                health_status=state.health_status if state else "unknown",
                latency_ms=state.last_latency_ms if state and state.last_probe_at else None,
                last_probe_at=state.last_probe_at if state else None,
                last_error=state.last_error if state else "",
                unhealthy_since=state.unhealthy_since if state else None,
                capabilities=capabilities_from_state(state),
            )
        )
    return rows


def endpoint_state(endpoint_name: str) -> EndpointState | None:
    return EndpointState.objects.filter(endpoint_name=endpoint_name).first()


def config_as_dict(config: TenantWhatsAppConfig) -> dict:
    """The API's view of a tenant's configuration (names and settings; never a URL or key)."""
    return {
        "id": str(config.id),
        "tenant_id": str(config.tenant_id),
        "endpoint_name": config.endpoint_name,
        "auto_reconnect": config.auto_reconnect,
        "reconnect_interval": config.reconnect_interval,
        "health_check_interval": config.health_check_interval,
        "webhook_retries": config.webhook_retries,
        "message_timeout": config.message_timeout,
        "is_configured": config.is_configured,
        "health_status": config.health_status,
        "last_health_check": config.last_health_check.isoformat()
        if config.last_health_check
        else None,
        "created_at": config.created_at.isoformat(),
        "updated_at": config.updated_at.isoformat(),
    }


# The booking product reads a tenant's configuration before much of what it does. Each process
# keeps the answer for two seconds; whatever changes it here (assign, settings, remove, a health
# probe) drops it at once, and changes made by other processes show within the two seconds.
_config_snapshots = TtlCache("config-snapshots", ttl=2)
_NONE = object()


def config_snapshot(tenant_id) -> dict | None:
    cached = _config_snapshots.get(tenant_id)
    if cached is None:
        config = TenantWhatsAppConfig.objects.filter(tenant_id=tenant_id).order_by().first()
        cached = config_as_dict(config) if config else _NONE
        _config_snapshots.set(tenant_id, cached)
    return None if cached is _NONE else dict(cached)


def forget_config_snapshots(tenant_id=None) -> None:
    if tenant_id is None:
        _config_snapshots.clear()
    else:
        _config_snapshots.delete(tenant_id)


_PHONE_LIKE = re.compile(r"[\d\s()+.-]+")


def conversation_match(q: str) -> Q:
    """Conversations whose contact name, number or hidden id matches what a person typed.

    Numbers are stored as E.164 (+62812...) but typed any way: separators are dropped, and a
    leading national trunk 0 may also stand for the country code ('0812-3456' finds +62812-3456;
    '0001' still finds numbers ending in 0001). The inbox page and the API share this.
    """
    q = clean_text(q).strip()  # a NUL would make PostgreSQL refuse the query
    match = Q(contact_name__icontains=q) | Q(contact__icontains=q) | Q(contact_lid__icontains=q)
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits and _PHONE_LIKE.fullmatch(q):
        match |= Q(contact__contains=digits)
        if digits.startswith("0") and not q.startswith("+"):
            country = phonenumbers.country_code_for_region(DEFAULT_PHONE_REGION)
            match |= Q(contact__contains=f"{country}{digits[1:]}")
    return match


def inbox_conversations(*, tenant: Tenant, q: str = "") -> QuerySet[Conversation]:
    """A tenant's conversations, newest activity first, optionally searched."""
    conversations = Conversation.objects.filter(tenant=tenant).select_related("device")
    if q.strip():
        conversations = conversations.filter(conversation_match(q))
    return conversations.order_by(F("last_message_at").desc(nulls_last=True), "-created_at")


@dataclass(frozen=True)
class DeliveryState:
    """What the pages say about sending: is the endpoint answering, what waits, until when."""

    config: TenantWhatsAppConfig | None
    endpoint_down: bool
    down_since: datetime | None
    alerted: bool
    waiting: int
    oldest_waiting: datetime | None
    unconfirmed: int
    expiry_hours: int
    check_every: int


def delivery_state(*, tenant: Tenant) -> DeliveryState:
    """The endpoint's health and the tenant's waiting messages (three small queries)."""
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    down = config is not None and config.health_status == HealthStatus.UNHEALTHY
    pending = Message.objects.filter(
        tenant=tenant, status__in=[MessageStatus.QUEUED, MessageStatus.UNCONFIRMED]
    )
    waiting = pending.aggregate(n=Count("id"), oldest=Min("created_at")) if down else {}
    state = (
        EndpointState.objects.filter(endpoint_name=config.endpoint_name).first() if down else None
    )
    return DeliveryState(
        config=config,
        endpoint_down=down,
        down_since=config.unhealthy_since if config else None,
        alerted=bool(state and state.alerted_at),
        waiting=waiting.get("n") or 0,
        oldest_waiting=waiting.get("oldest"),
        unconfirmed=pending.filter(status=MessageStatus.UNCONFIRMED).count() if down else 0,
        expiry_hours=config.message_expiry_hours if config else 24,
        check_every=config.health_check_interval if config else 60,
    )
