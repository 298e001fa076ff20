"""Tenant page (admins): sending settings: quiet hours, message expiry, device pacing and cap."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp.services import send_settings
from whatsapp.services.alerts import device_sends_today
from whatsapp.views.responses import error_status

TEMPLATE = "whatsapp/send_settings.html"


class QuietHoursForm(forms.Form):
    quiet_hours_start = forms.TimeField(required=False, label=gettext_lazy("Quiet from"))
    quiet_hours_end = forms.TimeField(required=False, label=gettext_lazy("Quiet until"))
    message_expiry_hours = forms.IntegerField(
        min_value=1, max_value=24 * 7, label=gettext_lazy("Messages expire after (hours)")
    )


class PacingForm(forms.Form):
    min_send_gap_ms = forms.IntegerField(min_value=0, label=gettext_lazy("Minimum gap (ms)"))
    daily_send_cap = forms.IntegerField(
        min_value=1, required=False, label=gettext_lazy("Daily cap")
    )


def _context(request, *, form=None, error=None) -> dict:
    config = reads.tenant_config(tenant=request.tenant)
    if form is None and config is not None:
        form = QuietHoursForm(
            initial={
                "quiet_hours_start": config.quiet_hours_start,
                "quiet_hours_end": config.quiet_hours_end,
                "message_expiry_hours": config.message_expiry_hours,
            }
        )
    devices = list(reads.tenant_devices(tenant=request.tenant))
    for device in devices:
        device.sends_today = device_sends_today(device=device)
    return {
        "config": config,
        "form": form,
        "devices": devices,
        "bounds": send_settings.pacing_bounds(),
        "error": error,
    }


@member_required(admin=True)
@require_GET
def send_settings_page(request):
    return render(request, TEMPLATE, _context(request))


@member_required(admin=True)
@require_POST
def send_settings_save(request):
    form = QuietHoursForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, _context(request, form=form), status=422)
    try:
        send_settings.send_settings_update(
            tenant=request.tenant, actor=request.user, **form.cleaned_data
        )
    except ApplicationError as exc:
        context = _context(request, form=form, error=exc.message)
        return render(request, TEMPLATE, context, status=error_status(exc))
    messages.success(request, _("Sending settings saved."))
    return redirect("whatsapp_send_settings")


@member_required(admin=True)
@require_POST
def device_pacing_save(request, device_id):
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    form = PacingForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return render(request, TEMPLATE, _context(request, error=errors), status=422)
    try:
        send_settings.device_pacing_update(device=device, actor=request.user, **form.cleaned_data)
    except ApplicationError as exc:
        return render(
            request, TEMPLATE, _context(request, error=exc.message), status=error_status(exc)
        )
    messages.success(request, _("Pacing for %(name)s saved.") % {"name": device.name})
    return redirect("whatsapp_send_settings")
