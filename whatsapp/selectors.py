"""Read queries for the WhatsApp pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from tenants.models import Tenant
from whatsapp.endpoints import registry
from whatsapp.models import AuditEvent, TenantWhatsAppConfig


def recent_audit_events(*, tenant: Tenant, limit: int = 10) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("-created_at")[:limit])


@dataclass(frozen=True)
class EndpointRow:
    name: str
    host: str
    provider: str
    tenant_count: int
    health_status: str


def endpoint_overview() -> list[EndpointRow]:
    """Every configured endpoint with how many tenants use it (one query)."""
    counts = {
        row["endpoint_name"]: row["n"]
        for row in TenantWhatsAppConfig.objects.values("endpoint_name").annotate(n=Count("id"))
    }
    return [
        EndpointRow(
            name=meta.name,
            host=meta.host,
            provider=meta.provider,
            tenant_count=counts.get(meta.name, 0),
            health_status="unknown",
        )
        for meta in registry().all_metadata()
    ]
