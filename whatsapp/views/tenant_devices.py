"""Tenant pages for one device: pairing by QR with live status, reconnect, log out, delete."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from booqing.exceptions import ApplicationError
from tenants.access import member_required
from whatsapp import services
from whatsapp.models import Device
from whatsapp.qr import qr_svg
from whatsapp.views.responses import error_status, go_to, page_or_fragment

DEVICE_TEMPLATE = "whatsapp/device.html"


def _device_context(
    request, device: Device, *, success=None, error=None, live: bool = True
) -> dict:
    """`live`: the gateway was asked just now; otherwise everything comes from the database
    (the QR too) and the page fetches the live status itself, showing "checking…"."""
    if device.is_pairing:
        qr = services.device_qr(device=device) if live else services.device_qr_stored(device=device)
    else:
        qr = None
    return {
        "device": device,
        "is_admin": request.membership.is_admin,
        "qr": _qr_context(qr),
        "success": success,
        "error": error,
        "live": live,
    }


def _qr_context(qr: services.QrInfo | None) -> dict | None:
    if qr is None:
        return None
    seconds_left = max(0, int((qr.expires_at - timezone.now()).total_seconds()))
    return {
        "value": qr.value,
        # segno writes the SVG from the value; no markup from the gateway reaches the page.
        "svg": mark_safe(qr_svg(qr.value)),  # noqa: S308
        "expires_at": qr.expires_at,
        "seconds_left": seconds_left,
        # Only a web link is worth offering as a link (the simulator's codes are; WhatsApp's
        # real ones are opaque strings that only the app understands).
        "link": qr.value if qr.value.startswith(("http://", "https://")) else None,
    }


@member_required
@require_GET
def device_detail(request, device_id):
    device = get_object_or_404(Device, pk=device_id, tenant=request.tenant)
    # The page renders from the database at once; its status section then asks for the live
    # status (htmx), and only that request waits on the gateway (it never raises).
    live = bool(request.htmx)
    if live:
        services.device_refresh_status(device=device)
    context = _device_context(request, device, live=live)
    return page_or_fragment(request, DEVICE_TEMPLATE, "device-status", context)


def _pairing_start(device: Device, actor) -> str:
    services.device_pairing_start(device=device, actor=actor)
    return "A new QR code was requested."


def _restart(device: Device, actor) -> str:
    services.device_restart(device=device, actor=actor)
    return f"{device.name} is reconnecting."


def _logout(device: Device, actor) -> str:
    services.device_logout(device=device, actor=actor)
    return f"{device.name} was logged out; scan a new QR code to link a phone again."


ACTIONS = {"qr": _pairing_start, "restart": _restart, "logout": _logout}


@member_required(admin=True)
@require_POST
def device_action(request, device_id, action: str):
    """New QR, Reconnect and Log out: one service call each, then the device panel again."""
    device = get_object_or_404(Device, pk=device_id, tenant=request.tenant)
    success, error, status = None, None, 200
    try:
        success = ACTIONS[action](device, request.user)
    except ApplicationError as exc:
        error, status = exc.message, error_status(exc)
    if success and not request.htmx:
        messages.success(request, success)
        return redirect("whatsapp_device", device_id=device.pk)
    context = _device_context(request, device, success=success, error=error)
    return page_or_fragment(request, DEVICE_TEMPLATE, "device-panel", context, status=status)


@member_required(admin=True)
@require_POST
def device_delete(request, device_id):
    device = get_object_or_404(Device, pk=device_id, tenant=request.tenant)
    name = device.name
    try:
        services.device_delete(device=device, actor=request.user)
    except ApplicationError as exc:
        context = _device_context(request, device, error=exc.message)
        return page_or_fragment(
            request, DEVICE_TEMPLATE, "device-panel", context, status=error_status(exc)
        )
    messages.success(request, f"{name} was deleted, with its conversations.")
    return go_to(request, reverse("whatsapp_dashboard"))
