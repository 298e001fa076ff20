"""Read queries for tenant pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from tenants.models import Membership, Tenant


def tenant_get(*, tenant_id) -> Tenant | None:
    return Tenant.objects.filter(pk=tenant_id).first()


def tenant_list(*, search: str = "") -> QuerySet[Tenant]:
    """Tenants with their WhatsApp config and member count, in a constant number of queries."""
    tenants = Tenant.objects.select_related("whatsapp_config").annotate(
        member_count=Count("memberships", distinct=True)
    )
    search = search.strip()
    if search:
        tenants = tenants.filter(
            Q(name__icontains=search)
            | Q(subdomain__icontains=search)
            | Q(whatsapp_config__endpoint_name__icontains=search)
        )
    return tenants.order_by("name", "subdomain")


def member_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """A tenant's members with their accounts, admins first, in one query."""
    return (
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("role", "user__username")
    )
