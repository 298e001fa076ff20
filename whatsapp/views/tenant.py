"""Tenant pages on the tenant's own host: the WhatsApp dashboard and adding a device."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from booqing.exceptions import ApplicationError
from tenants.access import member_required
from whatsapp import services
from whatsapp.endpoints import registry
from whatsapp.forms import DeviceForm
from whatsapp.models import Device, TenantWhatsAppConfig

DASHBOARD_TEMPLATE = "whatsapp/dashboard.html"
# A connected device that has not heard from its gateway for this long may have lost its webhook.
SILENT_AFTER = timedelta(hours=24)


def error_status(exc: ApplicationError) -> int:
    """The status of a full page that shows a service error: a 4xx, whatever the API would say.

    Gateway trouble is a 502/503 in the JSON API, but a page that explains it is a client-side
    answer (and proxies replace 5xx pages with their own).
    """
    return exc.status if 400 <= exc.status < 500 else 422


def _dashboard_context(request, *, form=None, error=None) -> dict:
    tenant = request.tenant
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    return {
        "config": config,
        "endpoint_known": config is not None and registry().is_valid(config.endpoint_name),
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
            if request.htmx:
                return HttpResponseClientRedirect(device_url(device))
            return redirect("whatsapp_device", device_id=device.pk)
    else:
        status = 422
    context = _dashboard_context(request, form=form, error=error)
    if request.htmx:
        # htmx swaps 2xx only by default, so the form comes back as 200 with its errors.
        return render(request, f"{DASHBOARD_TEMPLATE}#add-device", context)
    return render(request, DASHBOARD_TEMPLATE, context, status=status)


def device_url(device: Device) -> str:
    return reverse("whatsapp_device", kwargs={"device_id": device.pk})
