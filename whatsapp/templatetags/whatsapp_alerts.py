"""Template tags for the tenant alert banner and a device's sends against its daily cap, so the
includes need nothing from the views that show them."""

from __future__ import annotations

from django import template

from whatsapp.services.alerts import device_sends_today, tenant_alerts

register = template.Library()


@register.simple_tag
def alerts_for(tenant) -> list[dict]:
    if tenant is None:
        return []
    return tenant_alerts(tenant=tenant)


@register.simple_tag
def sends_today(device) -> int:
    cached = getattr(device, "sends_today", None)
    return cached if cached is not None else device_sends_today(device=device)
