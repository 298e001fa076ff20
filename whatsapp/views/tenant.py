"""Tenant pages on the tenant's own host: the WhatsApp dashboard and adding a device."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from booqing.exceptions import ApplicationError
from tenants.access import member_required
from whatsapp import selectors, services
from whatsapp.endpoints import registry
from whatsapp.forms import DeviceForm
from whatsapp.models import Device, TenantWhatsAppConfig
from whatsapp.views.responses import error_status, go_to, page_or_fragment

DASHBOARD_TEMPLATE = "whatsapp/dashboard.html"
# A connected device that has not heard from its gateway for this long may have lost its webhook.
SILENT_AFTER = timedelta(hours=24)


def _dashboard_context(request, *, form=None, error=None) -> dict:
    tenant = request.tenant
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    return {
        "config": config,
        "endpoint_known": config is not None and registry().is_valid(config.endpoint_name),
        "delivery": selectors.delivery_state(tenant=tenant),
        "is_admin": request.membership.is_admin,
        "devices": list(Device.objects.filter(tenant=tenant).order_by("created_at")),
        "silent_before": timezone.now() - SILENT_AFTER,
        "form": form or DeviceForm(),
        "error": error,
    }


@member_required
@require_GET
def dashboard(request):
    return render(request, DASHBOARD_TEMPLATE, _dashboard_context(request))


@member_required(admin=True)
@require_POST
def device_add(request):
    form = DeviceForm(request.POST)
    error = None
    if form.is_valid():
        try:
            device = services.device_create(
                tenant=request.tenant, name=form.cleaned_data["name"], actor=request.user
            )
        except ApplicationError as exc:
            error, status = exc.message, error_status(exc)
        else:
            messages.success(request, f"{device.name} added: scan the QR code with WhatsApp.")
            return go_to(request, device_url(device))
    else:
        status = 422
    context = _dashboard_context(request, form=form, error=error)
    return page_or_fragment(request, DASHBOARD_TEMPLATE, "add-device", context, status=status)


def device_url(device: Device) -> str:
    return reverse("whatsapp_device", kwargs={"device_id": device.pk})
