"""Tenant pages on the tenant's own host: the WhatsApp dashboard and adding a device."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors, services
from whatsapp import selectors_tenant as reads
from whatsapp.endpoints import registry
from whatsapp.forms import DeviceForm
from whatsapp.models import Device
from whatsapp.views.responses import error_status, go_to, page_or_fragment

DASHBOARD_TEMPLATE = "whatsapp/dashboard.html"


def _dashboard_context(request, *, form=None, error=None, devices=None) -> dict:
    tenant = request.tenant
    config = reads.tenant_config(tenant=tenant)
    return {
        "config": config,
        "endpoint_known": config is not None and registry().is_valid(config.endpoint_name),
        "delivery": selectors.delivery_state(tenant=tenant),
        "is_admin": request.membership.is_admin,
        # From the database unless the live check (htmx) just refreshed them.
        "devices": devices if devices is not None else list(reads.tenant_devices(tenant=tenant)),
        "live": devices is not None,
        "form": form or DeviceForm(),
        "error": error,
    }


@member_required
@require_GET
def dashboard(request):
    # The page never waits on a gateway: it renders from the database, then its devices card
    # asks again with htmx (`?live=1`), and only that request reads each session's status.
    if request.htmx and request.GET.get("live"):
        devices = services.devices_refresh_status(tenant=request.tenant)
        context = _dashboard_context(request, devices=devices)
        return page_or_fragment(request, DASHBOARD_TEMPLATE, "devices", context)
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
