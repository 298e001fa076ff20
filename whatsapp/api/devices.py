"""API: a tenant's devices (create, read, pair, restart, log out, delete)."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from core.audit import request_actor as actor
from whatsapp import selectors_tenant as reads
from whatsapp import services
from whatsapp.api.common import acting_tenant, iso
from whatsapp.api.schemas import ERRORS, SuccessOut
from whatsapp.models import Device
from whatsapp.qr import qr_svg

router = Router(tags=["devices"])
# The OpenAPI docs show which token scope each operation needs (booqing/api.py renders it).
ANY_SCOPE = {"x-token-scope": "any"}
MANAGE = {"x-token-scope": "devices", "x-session-role": "admin"}


class DeviceIn(Schema):
    name: str = Field(min_length=1, max_length=60, description="e.g. 'Front desk'")


ISO = "ISO 8601"


class QrOut(Schema):
    value: str = Field(description="What the QR code encodes (scan it with WhatsApp).")
    svg: str = Field(description="The QR code as inline SVG.")
    expires_at: str | None = Field(description=ISO)


class DeviceOut(Schema):
    id: str
    name: str
    status: str
    status_label: str
    status_detail: str | None
    phone: str | None
    push_name: str | None
    endpoint_name: str
    qr: QrOut | None = Field(description="While pairing (and asked for): the QR to scan.")
    connected_at: str | None = Field(description=ISO)
    last_event_at: str | None = Field(description=ISO)
    created_at: str | None = Field(description=ISO)


class DeviceListOut(Schema):
    devices: list[DeviceOut]


class DeviceEnvelope(Schema):
    device: DeviceOut


class PairingCodeOut(Schema):
    code: str = Field(description='e.g. "ABCD-EFGH"')
    phone: str
    expires_at: str | None = Field(description=f"{ISO}; an estimate (a few minutes)")


def device_as_dict(device: Device, *, with_qr: bool = False) -> dict:
    qr = None
    if with_qr:
        info = services.device_qr(device=device)
        if info is not None:
            qr = {
                "value": info.value,
                "svg": qr_svg(info.value),
                "expires_at": iso(info.expires_at),
            }
    return {
        "id": str(device.id),
        "name": device.name,
        "status": device.status,
        "status_label": device.get_status_display(),
        "status_detail": device.status_detail or None,
        "phone": device.phone or None,
        "push_name": device.push_name or None,
        "endpoint_name": device.endpoint_name,
        "qr": qr,
        "connected_at": iso(device.connected_at),
        "last_event_at": iso(device.last_event_at),
        "created_at": iso(device.created_at),
    }


def _device(request, device_id: uuid.UUID, *, admin: bool = False) -> Device:
    # Reading devices is open to any token (a sender picks its device_id); managing them needs
    # an admin session or the `devices` scope.
    tenant = acting_tenant(request, admin=admin, scope=None)
    return get_object_or_404(
        reads.tenant_devices(tenant=tenant).select_related("tenant"), pk=device_id
    )


@router.get("/devices", response={200: DeviceListOut, **ERRORS}, openapi_extra=ANY_SCOPE)
def device_list(request):
    """The tenant's devices (statuses as last known; no gateway calls).

    Token scope: any."""
    tenant = acting_tenant(request, scope=None)
    return {"devices": [device_as_dict(d) for d in reads.tenant_devices(tenant=tenant)]}


@router.post("/devices", response={201: DeviceEnvelope, **ERRORS}, openapi_extra=MANAGE)
def device_create(request, payload: DeviceIn):
    """Create a device: a gateway session with our webhook. Pair it with the returned QR."""
    tenant = acting_tenant(request, admin=True)
    device = services.device_create(tenant=tenant, name=payload.name, actor=actor(request))
    return Status(201, {"device": device_as_dict(device, with_qr=True)})


@router.get(
    "/devices/{device_id}", response={200: DeviceEnvelope, **ERRORS}, openapi_extra=ANY_SCOPE
)
def device_get(request, device_id: uuid.UUID):
    """One device; while pairing, its status is refreshed from the gateway and the QR included."""
    device = _device(request, device_id)
    if device.is_pairing:
        services.device_refresh_status(device=device)
    return {"device": device_as_dict(device, with_qr=device.is_pairing)}


@router.delete("/devices/{device_id}", response={200: SuccessOut, **ERRORS}, openapi_extra=MANAGE)
def device_delete(request, device_id: uuid.UUID):
    device = _device(request, device_id, admin=True)
    services.device_delete(device=device, actor=actor(request))
    return {"success": True}


@router.post(
    "/devices/{device_id}/qr", response={200: DeviceEnvelope, **ERRORS}, openapi_extra=MANAGE
)
def device_new_qr(request, device_id: uuid.UUID):
    """A fresh QR (restarts a stopped or failed session)."""
    device = services.device_pairing_start(
        device=_device(request, device_id, admin=True), actor=actor(request)
    )
    return {"device": device_as_dict(device, with_qr=True)}


@router.post(
    "/devices/{device_id}/restart", response={200: DeviceEnvelope, **ERRORS}, openapi_extra=MANAGE
)
def device_restart(request, device_id: uuid.UUID):
    device = services.device_restart(
        device=_device(request, device_id, admin=True), actor=actor(request)
    )
    return {"device": device_as_dict(device, with_qr=device.is_pairing)}


@router.post(
    "/devices/{device_id}/logout", response={200: DeviceEnvelope, **ERRORS}, openapi_extra=MANAGE
)
def device_logout(request, device_id: uuid.UUID):
    device = services.device_logout(
        device=_device(request, device_id, admin=True), actor=actor(request)
    )
    return {"device": device_as_dict(device, with_qr=device.is_pairing)}


class PairingCodeIn(Schema):
    phone: str = Field(
        min_length=1, max_length=40, description="The phone to link, e.g. '081234567890'"
    )


@router.post(
    "/devices/{device_id}/pairing-code",
    response={200: PairingCodeOut, **ERRORS},
    openapi_extra=MANAGE,
)
def device_pairing_code(request, device_id: uuid.UUID, payload: PairingCodeIn):
    """Link a phone without a QR: the 8-character code ("ABCD-EFGH") to type in WhatsApp under
    Linked devices -> Link with phone number. `expires_at` is an estimate (a few minutes)."""
    code = services.device_pairing_code(
        device=_device(request, device_id, admin=True),
        phone=payload.phone,
        actor=actor(request),
    )
    return {"code": code.code, "phone": code.phone, "expires_at": iso(code.expires_at)}
