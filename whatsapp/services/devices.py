"""Use cases for devices: create a gateway session, pair it by QR, follow its status, remove it."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from booqing.exceptions import ApplicationError
from tenants.models import Tenant
from whatsapp.gateways import GatewayError, SessionStatus
from whatsapp.models import (
    DROPPED_STATUSES,
    Device,
    DeviceStatus,
    HealthStatus,
    TenantWhatsAppConfig,
)
from whatsapp.services.config import audit_record
from whatsapp.services.events import events_emit_device_status
from whatsapp.services.gateway_access import (
    gateway_for_endpoint,
    tenant_config_or_error,
    webhook_url,
)

logger = logging.getLogger(__name__)

# WAHA: the first QR lives 60 s, each later one 20 s.
FIRST_QR_SECONDS = 60
NEXT_QR_SECONDS = 20
# A QR fetched this recently is served from the database instead of asking the gateway again.
QR_CACHE_SECONDS = 4
MAX_DEVICE_NAME = 60


@dataclass(frozen=True)
class QrInfo:
    value: str
    expires_at: datetime


def _session_name(tenant: Tenant) -> str:
    # <= 54 chars of [a-z0-9_-] (WAHA's rule); unique because of the random suffix.
    return f"bq-{tenant.subdomain[:24]}-{uuid.uuid4().hex[:12]}"


def _gateway_error(action: str, exc: GatewayError) -> ApplicationError:
    return ApplicationError(f"{action}: {exc.message}", exc.code or "gateway_error", status=502)


def _apply_status(device: Device, status: SessionStatus | None, *, now: datetime) -> list[str]:
    """Copy a gateway status onto the device; returns the fields that changed."""
    if status is None:
        return []
    changed = []
    if status.status != device.status:
        if status.status == DeviceStatus.CONNECTED:
            device.connected_at = now
            device.reconnect_attempts = 0
            device.next_reconnect_at = None
        elif status.status in DROPPED_STATUSES and device.connected_at is not None:
            # A paired device dropped: the scheduler restarts it after reconnect_interval.
            device.next_reconnect_at = now
        if status.status != DeviceStatus.SCAN_QR:
            device.qr_value = ""
        events_emit_device_status(device=device, previous=device.status, new=status.status)
        device.status = status.status
        changed += ["status", "connected_at", "reconnect_attempts", "next_reconnect_at", "qr_value"]
    if status.phone and status.phone != device.phone:
        device.phone = status.phone
        changed.append("phone")
    if status.push_name and status.push_name != device.push_name:
        device.push_name = status.push_name
        changed.append("push_name")
    if device.status_detail:
        device.status_detail = ""
        changed.append("status_detail")
    return changed


def _save(device: Device, fields: list[str]) -> None:
    if fields:
        device.save(update_fields=[*sorted(set(fields)), "updated_at"])


def device_create(*, tenant: Tenant, name: str, actor) -> Device:
    """Create a gateway session with our webhook and a per-device secret, then the Device row.

    The gateway call comes first and the row second, so a failed call leaves nothing behind
    and the user can simply try again.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_DEVICE_NAME:
        raise ApplicationError(
            f"Give the device a name of 1 to {MAX_DEVICE_NAME} characters (e.g. 'Front desk').",
            "invalid_name",
            status=422,
        )
    if Device.objects.filter(tenant=tenant, name=name).exists():
        raise ApplicationError(
            f"A device named '{name}' already exists: choose another name.",
            "device_name_taken",
            status=422,
        )
    config = tenant_config_or_error(tenant)
    gateway = gateway_for_endpoint(config.endpoint_name)
    if config.health_status == HealthStatus.UNHEALTHY:
        health = gateway.health()
        if not health.ok:
            raise ApplicationError(
                f"Failed to create device: endpoint '{config.endpoint_name}' is unhealthy "
                f"({health.detail or 'no answer'}). Try again once it is back; the platform "
                "operator sees its health on the Endpoints page.",
                "endpoint_unhealthy",
                status=503,
            )
    device = Device(
        tenant=tenant,
        name=name,
        endpoint_name=config.endpoint_name,
        session_name=_session_name(tenant),
        webhook_secret=secrets.token_urlsafe(32),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # The row is saved before the gateway call so the session's first webhooks find their
    # device (Evolution never retries a 404). If the call fails the row is removed again, so
    # the user sees why and can simply retry; nothing is left half-created.
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError as exc:
        raise ApplicationError(
            f"A device named '{name}' already exists: choose another name.",
            "device_name_taken",
            status=422,
        ) from exc
    try:
        status = gateway.session_create(
            name=device.session_name,
            webhook_url=webhook_url(device.webhook_id),
            webhook_secret=device.webhook_secret,
            webhook_retries=config.webhook_retries,
            metadata={"tenant": tenant.subdomain, "device": str(device.id)},
        )
    except GatewayError as exc:
        logger.warning(
            "device create failed tenant=%s endpoint=%s error=%s",
            tenant.subdomain,
            config.endpoint_name,
            exc.message,
        )
        _forget_device(device)
        raise _gateway_error("Failed to create device", exc) from exc
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        # A webhook may already have moved the new device on; the create reply is older news.
        if device.status == DeviceStatus.STARTING:
            _save(device, _apply_status(device, status, now=timezone.now()))
        audit_record(
            actor=actor,
            tenant=tenant,
            action="device.created",
            after={"device": name, "session": device.session_name},
        )
    logger.info("device created tenant=%s device=%s", tenant.subdomain, device.pk)
    return device


def _forget_device(device: Device) -> None:
    from whatsapp.services.webhooks import forget_webhook_target

    Device.objects.filter(pk=device.pk).delete()
    forget_webhook_target(device.webhook_id)


def device_refresh_status(*, device: Device) -> Device:
    """Ask the gateway for the session's status. Never raises: pages poll this."""
    now = timezone.now()
    try:
        status = gateway_for_endpoint(device.endpoint_name).session_status(device.session_name)
    except ApplicationError as exc:
        fields = _set_detail(device, exc.message)
    except GatewayError as exc:
        if exc.status == 404:
            status = SessionStatus(name=device.session_name, status=DeviceStatus.STOPPED)
            fields = _apply_status(device, status, now=now) + _set_detail(
                device, "The gateway no longer has this session: press Reconnect to recreate it."
            )
        else:
            fields = _set_detail(device, f"Could not refresh the status: {exc.message}")
    else:
        fields = _apply_status(device, status, now=now)
    _save(device, fields)
    return device


def _set_detail(device: Device, detail: str) -> list[str]:
    detail = detail[:300]
    if device.status_detail == detail:
        return []
    device.status_detail = detail
    return ["status_detail"]


def device_qr(*, device: Device, force: bool = False) -> QrInfo | None:
    """The current QR (fetched from the gateway at most every few seconds), or None."""
    # Evolution reports "connecting" both before and after its QR exists, so a starting
    # session is asked too; WAHA answers "not ready" until it shows SCAN_QR_CODE.
    if device.status not in (DeviceStatus.SCAN_QR, DeviceStatus.STARTING):
        return None
    now = timezone.now()
    fresh = device.qr_fetched_at and now - device.qr_fetched_at < timedelta(
        seconds=QR_CACHE_SECONDS
    )
    if force or not device.qr_value or not fresh:
        try:
            qr = gateway_for_endpoint(device.endpoint_name).session_qr(device.session_name)
        except (GatewayError, ApplicationError) as exc:
            logger.info("qr not available device=%s reason=%s", device.pk, exc)
            qr = None
        if qr is not None and qr.value:
            fields = ["qr_fetched_at"]
            device.qr_fetched_at = now
            if qr.value != device.qr_value:
                device.qr_value = qr.value
                device.qr_changed_at = now
                device.qr_count = F("qr_count") + 1
                fields += ["qr_value", "qr_changed_at", "qr_count"]
            if device.status == DeviceStatus.STARTING:
                device.status = DeviceStatus.SCAN_QR
                fields.append("status")
            _save(device, fields)
            device.refresh_from_db(fields=["qr_count"])
    if not device.qr_value or device.qr_changed_at is None:
        return None
    lifetime = FIRST_QR_SECONDS if device.qr_count <= 1 else NEXT_QR_SECONDS
    return QrInfo(
        value=device.qr_value, expires_at=device.qr_changed_at + timedelta(seconds=lifetime)
    )


def device_restart(*, device: Device, actor=None) -> Device:
    """Restart the session (recreating it if the gateway forgot it), e.g. after a drop."""
    gateway = gateway_for_endpoint(device.endpoint_name)
    try:
        gateway.session_restart(device.session_name)
    except GatewayError as exc:
        if exc.status != 404:
            raise _gateway_error("Could not reconnect the device", exc) from exc
        config = tenant_config_or_error(device.tenant)
        try:
            gateway.session_create(
                name=device.session_name,
                webhook_url=webhook_url(device.webhook_id),
                webhook_secret=device.webhook_secret,
                webhook_retries=config.webhook_retries,
                metadata={"tenant": device.tenant.subdomain, "device": str(device.id)},
            )
        except GatewayError as create_exc:
            raise _gateway_error("Could not recreate the device's session", create_exc) from exc
    device.qr_value, device.qr_count = "", 0
    _save(device, ["qr_value", "qr_count"])
    if actor is not None:
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.restarted",
            after={"device": device.name},
        )
    return device_refresh_status(device=device)


def device_pairing_start(*, device: Device, actor=None) -> Device:
    """Get a fresh QR: restart a stopped/failed session, or fetch a new code while pairing."""
    if device.status == DeviceStatus.CONNECTED:
        raise ApplicationError(
            f"{device.name} is already connected; log it out first to pair another phone.",
            "already_connected",
            status=409,
        )
    if device.status in DROPPED_STATUSES:
        return device_restart(device=device, actor=actor)
    device_refresh_status(device=device)
    device_qr(device=device, force=True)
    return device


def device_logout(*, device: Device, actor) -> Device:
    """Unlink the phone; the session stays and shows a new QR. No automatic reconnect."""
    try:
        gateway_for_endpoint(device.endpoint_name).session_logout(device.session_name)
    except GatewayError as exc:
        raise _gateway_error("Could not log the device out", exc) from exc
    device.phone, device.push_name, device.connected_at = "", "", None
    device.next_reconnect_at, device.qr_value, device.qr_count = None, "", 0
    _save(
        device, ["phone", "push_name", "connected_at", "next_reconnect_at", "qr_value", "qr_count"]
    )
    audit_record(
        actor=actor, tenant=device.tenant, action="device.logged_out", after={"device": device.name}
    )
    return device_refresh_status(device=device)


def device_delete(*, device: Device, actor) -> None:
    """Delete the gateway session, then the device (its conversations and messages go too)."""
    try:
        gateway_for_endpoint(device.endpoint_name).session_delete(device.session_name)
    except ApplicationError:
        pass  # the endpoint is gone from the server, so there is no session left to delete
    except GatewayError as exc:
        # Only "the session is already gone" lets the row go; anything else (gateway down, key
        # rejected) would leave a live session behind that nobody can see any more.
        if exc.status not in (404, 410):
            action = "Could not remove the device from the gateway" + (
                "" if exc.permanent else " (try again in a moment)"
            )
            raise _gateway_error(action, exc) from exc
    with transaction.atomic():
        # Lock the row first: a webhook stored while the cascade collects related rows would
        # otherwise break the delete's foreign key; with the lock it waits and then finds no device.
        Device.objects.select_for_update().filter(pk=device.pk).first()
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.deleted",
            before={"device": device.name, "phone": device.phone},
        )
        device.delete()
    from whatsapp.services.webhooks import forget_webhook_target

    forget_webhook_target(device.webhook_id)


def device_apply_status_event(
    *, device: Device, status: str, phone: str | None, push_name: str | None
) -> None:
    """A `session.status` webhook: move the device and drop a rotated QR."""
    now = timezone.now()
    fields = _apply_status(
        device,
        SessionStatus(name=device.session_name, status=status, phone=phone, push_name=push_name),
        now=now,
    )
    if status == DeviceStatus.SCAN_QR:
        # A new QR was announced: fetch it on the next poll instead of serving the old one.
        device.qr_fetched_at = None
        fields.append("qr_fetched_at")
    device.last_event_at = now
    _save(device, [*fields, "last_event_at"])


def devices_reconnect_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Restart dropped devices whose tenants want auto-reconnect. Safe to run concurrently."""
    now = now or timezone.now()
    configs = {
        c.tenant_id: c
        for c in TenantWhatsAppConfig.objects.filter(auto_reconnect=True).only(
            "tenant_id", "endpoint_name", "reconnect_interval"
        )
    }
    due = (
        Device.objects.filter(
            status__in=DROPPED_STATUSES,
            connected_at__isnull=False,
            tenant_id__in=list(configs),
        )
        .filter(Q(next_reconnect_at__lte=now) | Q(next_reconnect_at__isnull=True))
        .select_related("tenant")[:limit]
    )
    restarted = 0
    for device in due:
        config = configs[device.tenant_id]
        if config.endpoint_name != device.endpoint_name:
            continue
        next_at = now + timedelta(seconds=config.reconnect_interval)
        # The conditional update is the claim: another scheduler that got here first wins.
        claimed = Device.objects.filter(
            pk=device.pk, next_reconnect_at=device.next_reconnect_at
        ).update(next_reconnect_at=next_at, reconnect_attempts=F("reconnect_attempts") + 1)
        if not claimed:
            continue
        device.next_reconnect_at = next_at
        try:
            device_restart(device=device)
            restarted += 1
            logger.info("device reconnect device=%s tenant=%s", device.pk, device.tenant.subdomain)
        except ApplicationError as exc:
            logger.warning("device reconnect failed device=%s error=%s", device.pk, exc.message)
            Device.objects.filter(pk=device.pk).update(status_detail=exc.message[:300])
    return restarted
