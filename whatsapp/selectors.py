"""Read queries for the WhatsApp pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from tenants.models import Tenant
from whatsapp.endpoints import registry
from whatsapp.models import AuditEvent, EndpointState, TenantWhatsAppConfig


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
            )
        )
    return rows


def endpoint_state(endpoint_name: str) -> EndpointState | None:
    return EndpointState.objects.filter(endpoint_name=endpoint_name).first()
