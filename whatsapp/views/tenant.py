"""Tenant pages on the tenant's own host: the WhatsApp dashboard."""

from __future__ import annotations

from django.shortcuts import render

from tenants.access import member_required
from whatsapp.endpoints import registry
from whatsapp.models import TenantWhatsAppConfig


@member_required
def dashboard(request):
    config = TenantWhatsAppConfig.objects.filter(tenant=request.tenant).first()
    context = {
        "config": config,
        "endpoint_known": config is not None and registry().is_valid(config.endpoint_name),
        "is_admin": request.membership.is_admin,
    }
    return render(request, "whatsapp/dashboard.html", context)
