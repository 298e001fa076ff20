"""Tenant pages for one device: pairing by QR or phone number with live status, reconnect, log
out, delete."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp import services
from whatsapp.models import Device
from whatsapp.qr import qr_svg
from whatsapp.views.responses import error_status, go_to, page_or_fragment

DEVICE_TEMPLATE = "whatsapp/device.html"
# Gateway sentences name the endpoint and its host ("Gateway 'Demo' (localhost:3000) ..."): for
# superadmins. Salon owners get a sentence about what to do instead.
GATEWAY_LABEL = "Gateway '"


def tenant_error(exc: ApplicationError) -> str:
    """A service error as a salon owner should read it: no gateway host, endpoint name or API
    detail, and in their language."""
    known = {
        "already_connected": _(
            "This device is already connected. Log it out first to link another phone."
        ),
        "session_not_found": _(
            "WhatsApp has forgotten this device's link. Press Reconnect to start it again."
        ),
        "session_not_ready": _("This device is not running. Press Reconnect, then try again."),
        "qr_not_ready": _("WhatsApp is still getting ready. Try again in a few seconds."),
        "pairing_code_not_ready": _("WhatsApp is still getting ready. Try again in a few seconds."),
        "pairing_code_unsupported": _(
            "This WhatsApp connection cannot link by phone number. Scan the QR code instead."
        ),
    }
    if exc.code in known:
        return known[exc.code]
    if GATEWAY_LABEL in exc.message:
        return _(
            "The WhatsApp service is not answering right now. Try again in a minute; if it "
            "keeps happening, contact BooQing support."
        )
    return exc.message


def tenant_detail(detail: str) -> str:
    """The device's last status note without gateway internals (see tenant_error)."""
    if GATEWAY_LABEL in detail or "apiUrl" in detail:
        return _("The last status check did not reach WhatsApp; we keep trying on our own.")
    return detail


def _device_context(
    request, device: Device, *, success=None, error=None, live: bool = True, pairing=None
) -> dict:
    """`live`: the gateway was asked just now; otherwise everything comes from the database
    (the QR too) and the page fetches the live status itself, showing "checking…".
    `pairing`: a phone-number pairing code just received, or the form's error."""
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
        "status_detail": tenant_detail(device.status_detail) if device.status_detail else "",
        "pairing": pairing or {},
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
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    # The page renders from the database at once; its status section then asks for the live
    # status (htmx), and only that request waits on the gateway (it never raises).
    live = bool(request.htmx)
    if live:
        services.device_refresh_status(device=device)
    context = _device_context(request, device, live=live)
    # Once linked, the poll also removes a pairing code still on screen (out of band).
    context["clear_pairing"] = live and device.is_connected
    return page_or_fragment(request, DEVICE_TEMPLATE, "device-status", context)


def _pairing_start(device: Device, actor) -> str:
    services.device_pairing_start(device=device, actor=actor)
    return _("A new QR code was requested.")


def _restart(device: Device, actor) -> str:
    services.device_restart(device=device, actor=actor)
    return _("%(name)s is reconnecting.") % {"name": device.name}


def _logout(device: Device, actor) -> str:
    services.device_logout(device=device, actor=actor)
    return _("%(name)s was logged out; link a phone again with a QR code or a phone number.") % {
        "name": device.name
    }


ACTIONS = {"qr": _pairing_start, "restart": _restart, "logout": _logout}


@member_required(admin=True)
@require_POST
def device_action(request, device_id, action: str):
    """New QR, Reconnect and Log out: one service call each, then the device panel again."""
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    success, error, status = None, None, 200
    try:
        success = ACTIONS[action](device, request.user)
    except ApplicationError as exc:
        error, status = tenant_error(exc), error_status(exc)
    if success and not request.htmx:
        messages.success(request, success)
        return redirect("whatsapp_device", device_id=device.pk)
    context = _device_context(request, device, success=success, error=error)
    return page_or_fragment(request, DEVICE_TEMPLATE, "device-panel", context, status=status)


@member_required(admin=True)
@require_POST
def device_delete(request, device_id):
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    name = device.name
    try:
        services.device_delete(device=device, actor=request.user)
    except ApplicationError as exc:
        context = _device_context(request, device, error=tenant_error(exc))
        return page_or_fragment(
            request, DEVICE_TEMPLATE, "device-panel", context, status=error_status(exc)
        )
    messages.success(request, _("%(name)s was deleted, with its conversations.") % {"name": name})
    return go_to(request, reverse("whatsapp_dashboard"))


@member_required(admin=True)
@require_POST
def device_pairing_code(request, device_id):
    """ "Link with phone number": the 8-character code to type in WhatsApp on that phone."""
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    phone = request.POST.get("phone", "")
    pairing: dict = {"phone_input": phone[:40]}
    status = 200
    try:
        code = services.device_pairing_code(device=device, phone=phone, actor=request.user)
    except ApplicationError as exc:
        status = error_status(exc)
        # A bad number belongs next to the field; anything else is about the device.
        key = "phone_error" if exc.code == "invalid_phone" else "error"
        pairing[key] = tenant_error(exc)
    else:
        pairing.update(code=code.code, phone=code.phone, expires_at=code.expires_at)
    device.refresh_from_db()
    context = _device_context(request, device, pairing=pairing)
    return page_or_fragment(request, DEVICE_TEMPLATE, "device-panel", context, status=status)
